# Secrets the tasks read at start, all encrypted with the CMK.
#
# The app connects as clinic_app, which owns nothing and may only insert and read the audit
# tables; clinic_owner owns the schema and is used only to migrate (APP_DATABASE__MIGRATION_URL).
# Neither is the RDS master account. Both roles are created in the database by the one-off
# bootstrap task (ecs.tf, README.md) from these same secrets. Their passwords are generated
# here and so are in Terraform's state, which is why the state lives in an encrypted bucket.

locals {
  db_roles = {
    owner = "clinic_owner"
    app   = "clinic_app"
  }
}

resource "random_password" "db" {
  for_each = local.db_roles
  length   = 48
  special  = false # the password sits in a URL; 48 alphanumerics are ~285 bits
}

resource "aws_secretsmanager_secret" "db" {
  # checkov:skip=CKV2_AWS_57:AWS's PostgreSQL rotation functions rewrite only the "password" key, not the "url" key the app reads, and the app reads its URL only at start; a scheduled rotation would break the next restart. Rotate by hand instead: `terraform apply -replace='random_password.db["<role>"]'`, rerun the bootstrap task, force a new deployment (README.md).
  for_each                = local.db_roles
  name                    = "${local.name}/database/${each.key}"
  description             = "PostgreSQL role ${each.value}: username, password and the app's connection URL"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "db" {
  for_each  = local.db_roles
  secret_id = aws_secretsmanager_secret.db[each.key].id
  # sslmode=require: the server refuses plain connections anyway (rds.force_ssl); the app's
  # TLS stack does not carry the RDS CA, so the certificate is not verified by name.
  secret_string = jsonencode({
    username = each.value
    password = random_password.db[each.key].result
    url      = "postgres://${each.value}:${random_password.db[each.key].result}@${aws_db_instance.main.address}:${aws_db_instance.main.port}/${aws_db_instance.main.db_name}?sslmode=require"
  })
}

# The key file's JSON (APP_KEYS__MATERIAL). Terraform creates the secret but never its value:
# the clinic's master keys are made offline and put here by hand (README.md), so they are in
# no state file and no plan output.
resource "aws_secretsmanager_secret" "keys" {
  # checkov:skip=CKV2_AWS_57:The value is the app's key file, rotated by the app itself (`server keys rotate` adds a KEK version and re-wraps every data key); a Secrets Manager rotation would replace the file and make every sealed column unreadable.
  name                    = "${local.name}/keys"
  description             = "The clinic server's key file (JSON), read as APP_KEYS__MATERIAL"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 30
}
