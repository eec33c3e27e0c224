# Outgoing email (visit reminders, enrollment links, security notices) through Amazon SES's
# SMTP interface, reached through its own VPC endpoint: the tasks still have no internet route.
# Messages carry no PHI by the app's design (a reminder says only that a visit exists); SES
# is HIPAA eligible under the AWS BAA all the same. Off when email_from_address is null.
#
# SES SMTP authenticates with an IAM user's access key (there is no role-based SMTP login), so
# this is the one IAM user of the deployment, allowed to send from one address and nothing else.

locals {
  email_enabled = var.email_from_address != null
  email_domain  = local.email_enabled ? split("@", var.email_from_address)[1] : null

  # tomap: the two branches have different keys, which Terraform unifies only as maps.
  email_environment = local.email_enabled ? tomap({
    APP_REMINDERS__SMTP__HOST     = "email-smtp.${local.region}.amazonaws.com"
    APP_REMINDERS__SMTP__PORT     = "587"
    APP_REMINDERS__SMTP__SECURITY = "starttls"
    APP_REMINDERS__SMTP__FROM     = "${var.email_from_name} <${var.email_from_address}>"
    }) : tomap({
    # Without a relay the defaults (127.0.0.1:25) would fail on every send.
    APP_REMINDERS__ENABLED    = "false"
    APP_ACCOUNTS__EMAIL_LINKS = "false"
  })

  email_secrets = flatten([for arn in aws_secretsmanager_secret.smtp[*].arn : [
    { name = "APP_REMINDERS__SMTP__USERNAME", valueFrom = "${arn}:username::" },
    { name = "APP_REMINDERS__SMTP__PASSWORD", valueFrom = "${arn}:password::" },
  ]])
}

resource "aws_sesv2_email_identity" "domain" {
  count          = local.email_enabled ? 1 : 0
  email_identity = local.email_domain
}

# Easy DKIM's three records, when the zone is managed here; otherwise publish them from the
# ses_dkim_records output.
resource "aws_route53_record" "dkim" {
  count   = local.email_enabled && var.route53_zone_id != null ? 3 : 0
  zone_id = var.route53_zone_id
  name    = "${aws_sesv2_email_identity.domain[0].dkim_signing_attributes[0].tokens[count.index]}._domainkey.${local.email_domain}"
  type    = "CNAME"
  ttl     = 1800
  records = ["${aws_sesv2_email_identity.domain[0].dkim_signing_attributes[0].tokens[count.index]}.dkim.amazonses.com"]
}

resource "aws_iam_user" "smtp" {
  # checkov:skip=CKV_AWS_273:SES's SMTP interface accepts only credentials derived from an IAM user's access key; no SSO or role login exists for SMTP. The user has no console password and one permission (sending from one address).
  count         = local.email_enabled ? 1 : 0
  name          = "${local.name}-ses-smtp"
  force_destroy = true # its access key goes with it
}

data "aws_iam_policy_document" "smtp" {
  count = local.email_enabled ? 1 : 0
  statement {
    sid       = "SendFromTheClinicAddressOnly"
    actions   = ["ses:SendRawEmail"]
    resources = [aws_sesv2_email_identity.domain[0].arn]
    condition {
      test     = "StringEquals"
      variable = "ses:FromAddress"
      values   = [var.email_from_address]
    }
  }
}

resource "aws_iam_user_policy" "smtp" {
  # checkov:skip=CKV_AWS_40:SES SMTP credentials belong to an IAM user, so the permission has to reach that user; a group holding one user adds nothing.
  count  = local.email_enabled ? 1 : 0
  name   = "ses-send-from-clinic-address"
  user   = aws_iam_user.smtp[0].name
  policy = data.aws_iam_policy_document.smtp[0].json
}

resource "aws_iam_access_key" "smtp" {
  count = local.email_enabled ? 1 : 0
  user  = aws_iam_user.smtp[0].name
}

resource "aws_secretsmanager_secret" "smtp" {
  # checkov:skip=CKV2_AWS_57:The value is derived from an IAM access key, which Secrets Manager's rotation cannot mint; rotate with `terraform apply -replace='aws_iam_access_key.smtp[0]'` and a new deployment of the service (README.md).
  count                   = local.email_enabled ? 1 : 0
  name                    = "${local.name}/smtp"
  description             = "SES SMTP credentials of the ${local.name}-ses-smtp user"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "smtp" {
  count     = local.email_enabled ? 1 : 0
  secret_id = aws_secretsmanager_secret.smtp[0].id
  secret_string = jsonencode({
    username = aws_iam_access_key.smtp[0].id
    password = aws_iam_access_key.smtp[0].ses_smtp_password_v4
  })
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_smtp" {
  count                        = local.email_enabled ? 1 : 0
  security_group_id            = aws_security_group.tasks.id
  description                  = "SMTP submission to SES through its VPC endpoint"
  referenced_security_group_id = aws_security_group.endpoints.id
  ip_protocol                  = "tcp"
  from_port                    = 587
  to_port                      = 587
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_smtp_from_tasks" {
  count                        = local.email_enabled ? 1 : 0
  security_group_id            = aws_security_group.endpoints.id
  description                  = "SMTP submission from the app tasks"
  referenced_security_group_id = aws_security_group.tasks.id
  ip_protocol                  = "tcp"
  from_port                    = 587
  to_port                      = 587
}
