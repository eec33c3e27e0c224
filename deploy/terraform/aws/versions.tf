# Terraform and provider versions, and where the state lives.
terraform {
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.90"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # The state holds the generated database role passwords, so it must never sit on a laptop:
  # an S3 bucket with SSE-KMS, versioning and a lock table, given at init time
  # (`terraform init -backend-config=backend.hcl`, see README.md).
  backend "s3" {}
}

provider "aws" {
  region = var.region

  # Compliance tracking: every resource carries these, so an inventory (Config, Resource
  # Groups, Cost Explorer) can list what holds PHI and who answers for it.
  default_tags {
    tags = local.tags
  }
}
