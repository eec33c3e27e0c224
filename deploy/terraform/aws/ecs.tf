# ECS Fargate: the app service in the private subnets, and a one-off task that creates the
# database roles. Tasks have no public address; the ALB is their only caller.

resource "aws_ecs_cluster" "main" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  # ECS exec is off on the service. Should someone turn it on for an investigation, its
  # sessions are encrypted with the CMK and every command is logged for six years.
  configuration {
    execute_command_configuration {
      kms_key_id = aws_kms_key.main.arn
      logging    = "OVERRIDE"
      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.ecs_exec.name
      }
    }
  }
}

locals {
  # The one writable place in the container: the audit checkpoint file. Everything else is the
  # read-only image. (Task storage; see README.md on keeping checkpoints off the task.)
  state_dir = "/var/lib/clinic"

  # The clinic's own settings first, so that none of these can be overridden by them.
  app_environment = merge(var.app_environment, local.email_environment, {
    APP_ENVIRONMENT                      = "production"
    APP_SERVER__HOST                     = "0.0.0.0"
    APP_SERVER__PORT                     = tostring(local.app_port)
    APP_SERVER__PUBLIC_URL               = "https://${var.domain_name}"
    APP_SERVER__TLS__TERMINATED_BY_PROXY = "true"
    # The ALB's nodes live in the public subnets: only they may name the client (alb.tf).
    APP_SERVER__TRUSTED_PROXIES  = join(",", aws_subnet.public[*].cidr_block)
    APP_SERVER__FORWARDED_HEADER = "x-forwarded-for"
    APP_AUDIT__CHECKPOINT_FILE   = "${local.state_dir}/audit-checkpoints.log"
  })

  app_container = {
    name                   = "app"
    image                  = var.image
    essential              = true
    user                   = "65532:65532"
    readonlyRootFilesystem = true
    privileged             = false
    portMappings = [{
      containerPort = local.app_port
      protocol      = "tcp"
    }]
    environment = [for key in sort(keys(local.app_environment)) : { name = key, value = local.app_environment[key] }]
    # ECS reads these at start through the Secrets Manager endpoint; they never appear in the
    # task definition, the console or the state.
    secrets = concat([
      { name = "APP_KEYS__MATERIAL", valueFrom = aws_secretsmanager_secret.keys.arn },
      { name = "APP_DATABASE__URL", valueFrom = "${aws_secretsmanager_secret.db["app"].arn}:url::" },
      { name = "APP_DATABASE__MIGRATION_URL", valueFrom = "${aws_secretsmanager_secret.db["owner"].arn}:url::" },
    ], local.email_secrets)
    mountPoints = [{
      sourceVolume  = "state"
      containerPath = local.state_dir
      readOnly      = false
    }]
    healthCheck = {
      command     = ["CMD", "/app/server", "healthcheck"]
      interval    = 30
      timeout     = 5
      retries     = 3
      startPeriod = 60
    }
    linuxParameters = {
      capabilities       = { drop = ["ALL"] }
      initProcessEnabled = true
    }
    stopTimeout = 30 # the app drains within its 20 s grace
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.app.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "app"
      }
    }
  }
}

resource "aws_ecs_task_definition" "app" {
  family                   = "${local.name}-app"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.app_execution.arn
  task_role_arn            = aws_iam_role.app_task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "state"
  }

  container_definitions = jsonencode([local.app_container])

  lifecycle {
    precondition {
      condition     = startswith(var.image, local.ecr_registry)
      error_message = "image must be in this account's ECR in this region: the tasks can pull from nowhere else."
    }
  }
}

resource "aws_ecs_service" "app" {
  name                               = "app"
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.app.arn
  desired_count                      = var.desired_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  enable_execute_command             = false
  health_check_grace_period_seconds  = 60
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  propagate_tags                     = "SERVICE"
  enable_ecs_managed_tags            = true
  availability_zone_rebalancing      = "ENABLED"

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.app.arn
    container_name   = "app"
    container_port   = local.app_port
  }

  # A release whose tasks never become healthy is rolled back to the last one that did.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [aws_lb_listener.https, aws_iam_role_policy.app_execution]
}

# Creates (or re-passwords) clinic_owner and clinic_app and hands the database to clinic_owner.
# Idempotent; run once after the first apply and after rotating a role's password (README.md).
# Passwords go through psql's \password, which sends only the SCRAM verifier, so no plain
# password reaches the server's DDL log. scripts/check-db-bootstrap.sh runs it on PostgreSQL.
locals {
  db_bootstrap_script = <<-EOT
    set -eu
    for role in ${local.db_roles.owner} ${local.db_roles.app}; do
      psql -X -q -v ON_ERROR_STOP=1 -c "DO \$do\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = \$r\$$role\$r\$) THEN CREATE ROLE $role LOGIN; END IF; END \$do\$"
    done
    printf '%s\n%s\n' "$CLINIC_OWNER_PASSWORD" "$CLINIC_OWNER_PASSWORD" | psql -X -q -v ON_ERROR_STOP=1 -c '\password ${local.db_roles.owner}'
    printf '%s\n%s\n' "$CLINIC_APP_PASSWORD" "$CLINIC_APP_PASSWORD" | psql -X -q -v ON_ERROR_STOP=1 -c '\password ${local.db_roles.app}'
    psql -X -q -v ON_ERROR_STOP=1 \
      -c 'GRANT ${local.db_roles.owner} TO CURRENT_USER' \
      -c 'ALTER DATABASE ${aws_db_instance.main.db_name} OWNER TO ${local.db_roles.owner}' \
      -c 'REVOKE ALL ON DATABASE ${aws_db_instance.main.db_name} FROM PUBLIC' \
      -c 'GRANT CONNECT ON DATABASE ${aws_db_instance.main.db_name} TO ${local.db_roles.app}'
    echo "database roles ready"
  EOT
}

resource "aws_ecs_task_definition" "db_admin" {
  count                    = var.db_admin_image == null ? 0 : 1
  family                   = "${local.name}-db-bootstrap"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.db_admin_execution[0].arn
  task_role_arn            = aws_iam_role.app_task.arn # no permissions: psql needs none

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([{
    name                   = "db-bootstrap"
    image                  = var.db_admin_image
    essential              = true
    user                   = "postgres" # present in the official images; not root
    readonlyRootFilesystem = true
    privileged             = false
    entryPoint             = ["sh", "-c"]
    command                = [local.db_bootstrap_script]
    environment = [
      { name = "PGHOST", value = aws_db_instance.main.address },
      { name = "PGPORT", value = tostring(aws_db_instance.main.port) },
      { name = "PGDATABASE", value = aws_db_instance.main.db_name },
      { name = "PGSSLMODE", value = "require" },
    ]
    secrets = [
      { name = "PGUSER", valueFrom = "${aws_db_instance.main.master_user_secret[0].secret_arn}:username::" },
      { name = "PGPASSWORD", valueFrom = "${aws_db_instance.main.master_user_secret[0].secret_arn}:password::" },
      { name = "CLINIC_OWNER_PASSWORD", valueFrom = "${aws_secretsmanager_secret.db["owner"].arn}:password::" },
      { name = "CLINIC_APP_PASSWORD", valueFrom = "${aws_secretsmanager_secret.db["app"].arn}:password::" },
    ]
    linuxParameters = {
      capabilities = { drop = ["ALL"] }
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.db_admin.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "db-bootstrap"
      }
    }
  }])

  lifecycle {
    precondition {
      condition     = startswith(var.db_admin_image, local.ecr_registry)
      error_message = "db_admin_image must be in this account's ECR in this region: the tasks can pull from nowhere else."
    }
  }
}
