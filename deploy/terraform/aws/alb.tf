# The internet-facing load balancer: TLS 1.2+ with the clinic's ACM certificate, HTTP only
# redirects, WAF in front, access logs to S3.
#
# TLS ends here and the ALB forwards plain HTTP to the tasks on the private subnets, with the
# app set to server.tls.terminated_by_proxy (HSTS, Secure cookies) and server.trusted_proxies
# = the public subnets, where the ALB's nodes live. Why not re-encrypt to the tasks: the ALB
# does not verify target certificates, so a task's self-signed certificate would defeat only a
# passive listener inside a VPC where the security groups already allow nothing but ALB->task;
# in exchange every task would need a certificate minted at start. Trusting only the public
# subnets (not the whole VPC) means nothing in the private subnets can forge a client address.

resource "aws_lb" "main" {
  name                       = local.name
  internal                   = false
  load_balancer_type         = "application"
  subnets                    = aws_subnet.public[*].id
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = true
  desync_mitigation_mode     = "strictest"
  idle_timeout               = 120 # video visits' signaling sockets stay open between messages

  access_logs {
    bucket  = aws_s3_bucket.alb_logs.id
    prefix  = "alb"
    enabled = true
  }

  depends_on = [aws_s3_bucket_policy.alb_logs]
}

resource "aws_lb_target_group" "app" {
  name_prefix          = "app-" # replaced before destroyed, so two may exist at once
  port                 = local.app_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 30 # a little above the app's 20 s graceful shutdown

  health_check {
    path                = "/readyz"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.main.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.app.arn
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.main.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_route53_record" "app" {
  count   = var.route53_zone_id == null ? 0 : 1
  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = aws_lb.main.dns_name
    zone_id                = aws_lb.main.zone_id
    evaluate_target_health = true
  }
}
