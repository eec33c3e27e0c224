# What a clinic sets (terraform.tfvars); everything else follows from these.

variable "region" {
  description = "AWS region to deploy into (one covered by the clinic's BAA with AWS)."
  type        = string
  default     = "us-east-1"
}

variable "availability_zones" {
  description = "The two availability zones of region to use, e.g. [\"us-east-1a\", \"us-east-1b\"]."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b"]

  validation {
    condition     = length(var.availability_zones) == 2 && length(distinct(var.availability_zones)) == 2
    error_message = "availability_zones must name two different zones."
  }
}

variable "name" {
  description = "Short name used in resource names and the Project tag."
  type        = string
  default     = "clinic"

  # "<name>-<environment>" names the ALB and its log bucket prefix, which allow 32 and 37
  # characters: each part is kept to 12.
  validation {
    condition     = can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", var.name)) && length(var.name) >= 2 && length(var.name) <= 12
    error_message = "name must be 2-12 lowercase letters, digits and single inner hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name used in resource names and the Environment tag."
  type        = string
  default     = "production"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", var.environment)) && length(var.environment) >= 2 && length(var.environment) <= 12
    error_message = "environment must be 2-12 lowercase letters, digits and single inner hyphens, starting with a letter."
  }
}

variable "owner" {
  description = "Who answers for this deployment (Owner tag), e.g. the security officer's team address."
  type        = string
}

variable "extra_tags" {
  description = "More tags for every resource (cost centre, BAA reference, ...)."
  type        = map(string)
  default     = {}
}

variable "domain_name" {
  description = "Host name people use to reach the clinic, e.g. portal.clinic.example. Passkeys are bound to it."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", var.domain_name))
    error_message = "domain_name must be a lowercase DNS name such as portal.clinic.example."
  }
}

variable "certificate_arn" {
  description = "ARN of an issued ACM certificate for domain_name, in the same region."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "route53_zone_id" {
  description = "Hosted zone to create the domain_name alias record in; null leaves DNS to you (point it at the alb_dns_name output)."
  type        = string
  default     = null
}

variable "image" {
  description = "The clinic server image in this account's private ECR, in this region (the tasks have no internet route), ideally pinned by digest: 123456789012.dkr.ecr.us-east-1.amazonaws.com/clinic@sha256:..."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/[a-z0-9._/-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$", var.image))
    error_message = "image must be a private ECR image reference with a tag or digest (the tasks can pull only through the VPC's ECR endpoints)."
  }
}

variable "db_admin_image" {
  description = "A PostgreSQL client image (e.g. postgres:16-alpine copied into this account's ECR) for the one-off role bootstrap task; null: no bootstrap task definition (create the roles yourself)."
  type        = string
  default     = null

  validation {
    condition     = var.db_admin_image == null || can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/[a-z0-9._/-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$", var.db_admin_image))
    error_message = "db_admin_image must be a private ECR image reference with a tag or digest."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture the image is built for: X86_64 or ARM64."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "vpc_cidr" {
  description = "CIDR of the VPC; split into two public and two private /20 subnets."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be an IPv4 CIDR of /20 or larger."
  }
}

variable "task_cpu" {
  description = "Fargate task CPU units (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "task_memory" {
  description = "Fargate task memory in MiB (must suit task_cpu)."
  type        = number
  default     = 2048
}

variable "desired_count" {
  description = "Number of app tasks; at least 2, one per availability zone."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 2
    error_message = "desired_count must be at least 2 so that losing one zone or task keeps the clinic up."
  }
}

variable "db_engine_version" {
  description = "PostgreSQL major version (15 or 16); minor versions follow AWS through auto minor version upgrade."
  type        = string
  default     = "16"

  validation {
    condition     = contains(["15", "16"], var.db_engine_version)
    error_message = "db_engine_version must be \"15\" or \"16\"."
  }
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.m6g.large"
}

variable "db_allocated_storage" {
  description = "Initial database storage in GiB."
  type        = number
  default     = 100
}

variable "db_max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
  default     = 500
}

variable "app_environment" {
  description = "More APP_* settings for the app (no secrets), e.g. APP_REMINDERS__SMTP__HOST, APP_CLINIC__NAME."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key in keys(var.app_environment) : can(regex("^APP_[A-Z0-9_]+$", key))])
    error_message = "app_environment keys must be APP_ settings such as APP_CLINIC__NAME."
  }
}

variable "waf_rate_limit" {
  description = "Requests per client address in 5 minutes before WAF blocks it."
  type        = number
  default     = 2000
}

variable "email_from_address" {
  description = "Sender of reminders, enrollment links and security notices, sent through Amazon SES in this region (its domain is verified here). null: the app sends no email (reminders and emailed enrollment links off)."
  type        = string
  default     = null

  validation {
    condition     = var.email_from_address == null || can(regex("^[a-z0-9._+-]+@([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", var.email_from_address))
    error_message = "email_from_address must be a lowercase address such as reminders@clinic.example."
  }
}

variable "email_from_name" {
  description = "Display name on outgoing email."
  type        = string
  default     = "Clinic"

  validation {
    condition     = can(regex("^[A-Za-z0-9 .,'&-]{1,64}$", var.email_from_name))
    error_message = "email_from_name must be 1-64 letters, digits, spaces or .,'&-."
  }
}
