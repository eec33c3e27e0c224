# VPC: public subnets hold only the load balancer; private subnets hold the tasks and the
# database and have no route to the internet at all.
#
# Egress goes through VPC endpoints rather than a NAT gateway: the tasks then reach only the
# AWS services listed below (ECR, Secrets Manager, KMS, CloudWatch Logs, S3 for image layers),
# so a compromised task has no path to send PHI to an arbitrary host, and nothing in the
# private subnets can be reached from or call out to the internet. It also removes the NAT's
# per-GB charge on image pulls. The cost is one endpoint per service per zone; a service the
# app may need later (SES SMTP for reminders, say) needs its own endpoint here.

resource "aws_vpc" "main" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true # interface endpoints' private DNS names need both

  tags = { Name = local.name }
}

resource "aws_subnet" "public" {
  count                   = 2
  vpc_id                  = aws_vpc.main.id
  cidr_block              = cidrsubnet(var.vpc_cidr, 4, count.index)
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = false # the ALB gets its addresses itself; nothing else lives here

  tags = { Name = "${local.name}-public-${local.azs[count.index]}", Tier = "public" }
}

resource "aws_subnet" "private" {
  count             = 2
  vpc_id            = aws_vpc.main.id
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index + 8)
  availability_zone = local.azs[count.index]

  tags = { Name = "${local.name}-private-${local.azs[count.index]}", Tier = "private" }
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id
  tags   = { Name = local.name }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id
  tags   = { Name = "${local.name}-public" }
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.main.id
}

resource "aws_route_table_association" "public" {
  count          = 2
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

# Only the VPC's local route and the S3 gateway endpoint's prefix list: no default route.
resource "aws_route_table" "private" {
  vpc_id = aws_vpc.main.id
  tags   = { Name = "${local.name}-private" }
}

resource "aws_route_table_association" "private" {
  count          = 2
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

# The default security group denies everything, so a resource launched without an explicit
# group is isolated rather than open to the rest of the VPC.
resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.main.id
  tags   = { Name = "${local.name}-default-deny" }
}

resource "aws_flow_log" "main" {
  vpc_id                   = aws_vpc.main.id
  traffic_type             = "ALL"
  log_destination_type     = "cloud-watch-logs"
  log_destination          = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn             = aws_iam_role.flow_logs.arn
  max_aggregation_interval = 60
}

# ECR image layers are S3 objects: the gateway endpoint lets only those through.
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.main.id
  service_name      = "com.amazonaws.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EcrImageLayersOnly"
      Effect    = "Allow"
      Principal = "*"
      Action    = ["s3:GetObject"]
      Resource  = ["arn:${local.partition}:s3:::prod-${local.region}-starport-layer-bucket/*"]
    }]
  })

  tags = { Name = "${local.name}-s3" }
}

locals {
  interface_endpoints = setunion(
    ["ecr.api", "ecr.dkr", "secretsmanager", "kms", "logs"],
    local.email_enabled ? ["email-smtp"] : [],
  )
}

resource "aws_vpc_endpoint" "interface" {
  for_each            = local.interface_endpoints
  vpc_id              = aws_vpc.main.id
  service_name        = "com.amazonaws.${local.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.endpoints.id]
  private_dns_enabled = true

  # Only this account's principals may call through these endpoints, so credentials of another
  # account cannot be used from inside the VPC to copy data out to it. (Not aws:ResourceAccount:
  # ecr:GetAuthorizationToken names no resource, and the pull would be refused.) SES's SMTP
  # endpoint speaks SMTP, not the AWS API, and takes no policy: its login is the send-only user.
  policy = each.key == "email-smtp" ? null : jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "ThisAccountsPrincipalsOnly"
      Effect    = "Allow"
      Principal = "*"
      Action    = "*"
      Resource  = "*"
      Condition = {
        StringEquals = { "aws:PrincipalAccount" = local.account_id }
      }
    }]
  })

  tags = { Name = "${local.name}-${each.key}" }
}
