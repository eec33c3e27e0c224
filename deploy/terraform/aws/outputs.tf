output "alb_dns_name" {
  description = "Point domain_name here (a CNAME, or an alias A record with alb_zone_id) unless route53_zone_id was given."
  value       = aws_lb.main.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone of the load balancer, for an alias record."
  value       = aws_lb.main.zone_id
}

output "public_url" {
  description = "The address the app is configured for (APP_SERVER__PUBLIC_URL)."
  value       = "https://${var.domain_name}"
}

output "keys_secret_arn" {
  description = "Put the clinic's key file JSON here before the service can start (README.md)."
  value       = aws_secretsmanager_secret.keys.arn
}

output "database_endpoint" {
  description = "PostgreSQL host:port (private; reachable from the tasks only)."
  value       = aws_db_instance.main.endpoint
}

output "database_master_secret_arn" {
  description = "RDS-managed master credentials (used only by the bootstrap task)."
  value       = aws_db_instance.main.master_user_secret[0].secret_arn
}

output "kms_key_arn" {
  description = "The customer-managed key encrypting the database, secrets and logs."
  value       = aws_kms_key.main.arn
}

output "ecs_cluster_name" {
  value = aws_ecs_cluster.main.name
}

output "ecs_service_name" {
  value = aws_ecs_service.app.name
}

output "app_log_group" {
  value = aws_cloudwatch_log_group.app.name
}

output "db_bootstrap_command" {
  description = "Creates the database roles (run once after the first apply, and after a role password rotation)."
  value = var.db_admin_image == null ? null : join(" ", [
    "aws ecs run-task --region ${local.region} --cluster ${aws_ecs_cluster.main.name}",
    "--launch-type FARGATE --task-definition ${aws_ecs_task_definition.db_admin[0].family}",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", aws_subnet.private[*].id)}],securityGroups=[${aws_security_group.tasks.id}],assignPublicIp=DISABLED}'",
  ])
}

output "ses_dkim_records" {
  description = "CNAME records that verify the sender domain, to publish when route53_zone_id is null."
  value = local.email_enabled ? {
    for token in aws_sesv2_email_identity.domain[0].dkim_signing_attributes[0].tokens :
    "${token}._domainkey.${local.email_domain}" => "${token}.dkim.amazonses.com"
  } : tomap({})
}
