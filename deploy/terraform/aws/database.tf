# RDS PostgreSQL, Multi-AZ, in the private subnets, reachable only from the tasks' group.

resource "aws_db_subnet_group" "main" {
  name       = local.name
  subnet_ids = aws_subnet.private[*].id
}

resource "aws_db_parameter_group" "main" {
  name_prefix = "${local.name}-pg${var.db_engine_version}-"
  family      = "postgres${var.db_engine_version}"
  description = "${local.name}: TLS only, connection and DDL logging without bind values"

  # Refuse unencrypted connections (45 CFR 164.312(e)(1), transmission security).
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  # Schema changes are recorded; data statements are not (the app's own audit log covers who
  # read and wrote what, with the access decision beside it).
  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  # Slow statements are logged for tuning...
  parameter {
    name  = "log_min_duration_statement"
    value = "2000"
  }

  # ...but never with their bind values, which are PHI (names, dates of birth, notes).
  parameter {
    name  = "log_parameter_max_length"
    value = "0"
  }

  parameter {
    name  = "log_parameter_max_length_on_error"
    value = "0"
  }

  parameter {
    name  = "log_lock_waits"
    value = "1"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "main" {
  identifier     = local.name
  engine         = "postgres"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class

  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.main.arn

  db_name  = "clinic"
  username = "clinic_admin"
  # RDS generates and rotates the master password in Secrets Manager, under the CMK; it is
  # never in Terraform's state. The app does not use this account (see secrets.tf).
  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.main.arn

  # Lets people and jobs sign in with short-lived IAM tokens (GRANT rds_iam) instead of
  # passwords; the app itself uses its own role's password from Secrets Manager.
  iam_database_authentication_enabled = true

  multi_az               = true
  db_subnet_group_name   = aws_db_subnet_group.main.name
  vpc_security_group_ids = [aws_security_group.db.id]
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.main.name
  ca_cert_identifier     = "rds-ca-rsa2048-g1"

  # 35 days is the most RDS keeps point-in-time recovery for.
  backup_retention_period   = 35
  backup_window             = "07:00-08:00"
  maintenance_window        = "sun:08:30-sun:09:30"
  copy_tags_to_snapshot     = true
  delete_automated_backups  = false
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.name}-final"

  auto_minor_version_upgrade  = true
  allow_major_version_upgrade = false
  apply_immediately           = false

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.main.arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 30
  monitoring_role_arn                   = aws_iam_role.rds_monitoring.arn

  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]

  depends_on = [aws_cloudwatch_log_group.rds]
}
