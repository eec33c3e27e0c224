# Roles, each allowed only what its one job needs, on named resources.

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    # Only tasks of this account may take these roles (confused-deputy protection).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# The app itself calls no AWS API: its task role has no permissions at all, so code running in
# the container cannot use AWS credentials for anything.
resource "aws_iam_role" "app_task" {
  name               = "${local.name}-app-task"
  description        = "Identity of the app's code inside the task; deliberately without permissions"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

# What ECS itself needs to start an app task: pull the image, write its logs, read its secrets.
resource "aws_iam_role" "app_execution" {
  name               = "${local.name}-app-execution"
  description        = "ECS agent starting the app task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "app_execution" {
  statement {
    sid = "EcrAuthorizationTokenHasNoResource"
    # GetAuthorizationToken does not support resource-level permissions; the token alone
    # reads nothing (the repository statement below decides what may be pulled).
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "PullTheAppImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [local.image_repository_arn]
  }
  statement {
    sid       = "WriteTheAppLog"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.app.arn}:*"]
  }
  statement {
    sid     = "ReadTheAppSecrets"
    actions = ["secretsmanager:GetSecretValue"]
    resources = concat([
      aws_secretsmanager_secret.keys.arn,
      aws_secretsmanager_secret.db["app"].arn,
      aws_secretsmanager_secret.db["owner"].arn,
    ], aws_secretsmanager_secret.smtp[*].arn)
  }
  statement {
    sid       = "DecryptThoseSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "app_execution" {
  name   = "start-app-task"
  role   = aws_iam_role.app_execution.id
  policy = data.aws_iam_policy_document.app_execution.json
}

# The one-off bootstrap task reads the RDS master secret, which the app's roles never can.
resource "aws_iam_role" "db_admin_execution" {
  count              = var.db_admin_image == null ? 0 : 1
  name               = "${local.name}-db-admin-execution"
  description        = "ECS agent starting the database role bootstrap task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "db_admin_execution" {
  count = var.db_admin_image == null ? 0 : 1
  statement {
    sid       = "EcrAuthorizationTokenHasNoResource"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "PullThePostgresClientImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [local.db_admin_repository_arn]
  }
  statement {
    sid       = "WriteTheBootstrapLog"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.db_admin.arn}:*"]
  }
  statement {
    sid     = "ReadTheMasterAndRoleSecrets"
    actions = ["secretsmanager:GetSecretValue"]
    resources = [
      aws_db_instance.main.master_user_secret[0].secret_arn,
      aws_secretsmanager_secret.db["app"].arn,
      aws_secretsmanager_secret.db["owner"].arn,
    ]
  }
  statement {
    sid       = "DecryptThoseSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "db_admin_execution" {
  count  = var.db_admin_image == null ? 0 : 1
  name   = "start-db-admin-task"
  role   = aws_iam_role.db_admin_execution[0].id
  policy = data.aws_iam_policy_document.db_admin_execution[0].json
}

resource "aws_iam_role" "flow_logs" {
  name        = "${local.name}-vpc-flow-logs"
  description = "VPC flow logs delivery to its one log group"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "vpc-flow-logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    sid       = "WriteTheFlowLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [aws_cloudwatch_log_group.flow_logs.arn, "${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

resource "aws_iam_role" "rds_monitoring" {
  name        = "${local.name}-rds-monitoring"
  description = "RDS enhanced monitoring (OS metrics to CloudWatch)"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "monitoring.rds.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

# AWS's own policy for this service role: it writes only to the RDSOSMetrics log group.
resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}
