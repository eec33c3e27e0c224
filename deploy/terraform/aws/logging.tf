# CloudWatch log groups, all encrypted with the CMK and kept six years (local.log_retention_days).
# Every group AWS would otherwise create on its own (RDS exports) is declared here first, so that
# none appears unencrypted with "never expire".

resource "aws_cloudwatch_log_group" "app" {
  name              = "/${var.name}/${var.environment}/app"
  retention_in_days = local.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_group" "db_admin" {
  name              = "/${var.name}/${var.environment}/db-admin"
  retention_in_days = local.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_group" "ecs_exec" {
  name              = "/${var.name}/${var.environment}/ecs-exec"
  retention_in_days = local.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/${var.name}/${var.environment}/vpc-flow-logs"
  retention_in_days = local.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

# RDS writes to exactly these names (/aws/rds/instance/<identifier>/<log>).
resource "aws_cloudwatch_log_group" "rds" {
  for_each          = toset(["postgresql", "upgrade"])
  name              = "/aws/rds/instance/${local.name}/${each.key}"
  retention_in_days = local.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

# WAF requires the aws-waf-logs- prefix.
resource "aws_cloudwatch_log_group" "waf" {
  name              = "aws-waf-logs-${local.name}"
  retention_in_days = local.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

# WAF delivers through the log delivery service, which needs this group's resource policy.
resource "aws_cloudwatch_log_resource_policy" "waf" {
  policy_name = "${local.name}-waf-logs"
  policy_document = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "WafDeliversToItsLogGroup"
      Effect    = "Allow"
      Principal = { Service = "delivery.logs.amazonaws.com" }
      Action    = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource  = "${aws_cloudwatch_log_group.waf.arn}:*"
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:*" }
      }
    }]
  })
}
