# Names, tags and facts about the account every other file uses.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

# The two zones are named, not picked from whatever the region lists today: a zone AWS adds
# later must never move a subnet (and the database with it).
data "aws_availability_zones" "chosen" {
  state = "available"
  filter {
    name   = "zone-name"
    values = var.availability_zones
  }

  lifecycle {
    postcondition {
      condition     = length(self.names) == 2
      error_message = "availability_zones must name two available zones of the chosen region."
    }
  }
}

locals {
  name       = "${var.name}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  azs        = sort(data.aws_availability_zones.chosen.names)

  # HIPAA keeps required documentation six years (45 CFR 164.316(b)(2)(i)); audit-relevant logs
  # are kept as long. 2192 is a value CloudWatch Logs accepts (six years and two leap days).
  log_retention_days = 2192

  # The port the app listens on inside the task; only the load balancer reaches it.
  app_port = 8080

  # Image coordinates, for the execution roles' scoped ECR permissions.
  ecr_registry            = "${local.account_id}.dkr.ecr.${local.region}.amazonaws.com/"
  ecr_repository_of       = "^[0-9]+\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/([^:@]+)"
  ecr_repository_arn      = "arn:${local.partition}:ecr:${local.region}:${local.account_id}:repository/"
  image_repository_arn    = "${local.ecr_repository_arn}${regex(local.ecr_repository_of, var.image)[0]}"
  db_admin_repository_arn = var.db_admin_image == null ? null : "${local.ecr_repository_arn}${regex(local.ecr_repository_of, var.db_admin_image)[0]}"

  tags = merge({
    Project            = var.name
    Environment        = var.environment
    DataClassification = "PHI"
    Compliance         = "HIPAA"
    Owner              = var.owner
    ManagedBy          = "terraform"
  }, var.extra_tags)
}
