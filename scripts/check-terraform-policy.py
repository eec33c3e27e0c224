"""The clinic's own rules for deploy/terraform/aws, read with python-hcl2.

checkov knows generic best practice ("retention of at least a year", "some TLS policy"); these
are the numbers this deployment promises in its README and that HIPAA work relies on: six-year
log retention, 35 days of backups, TLS 1.2+ at the edge, no internet route from the private
subnets, the app as a fixed non-root user on a read-only root. It also finds references to
variables, locals, resources and data sources that nothing declares. Run with python-hcl2's
interpreter: `python check-terraform-policy.py DIR`. Exits 1 and names every broken rule.
"""

import json
import re
import sys
from pathlib import Path

import hcl2


def unquote(value):
    """python-hcl2 8 keeps string literals quoted ("\"x\""); expressions stay as ${...}."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [unquote(item) for item in value]
    if isinstance(value, dict):
        return {unquote(key): unquote(item) for key, item in value.items()}
    return value


def load(directory):
    resources, locals_, variables, providers, data = {}, {}, {}, [], {}
    for path in sorted(Path(directory).glob("*.tf")):
        with path.open() as handle:
            doc = unquote(hcl2.load(handle))
        for block in doc.get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    resources.setdefault(kind, {})[name] = body
        for block in doc.get("locals", []):
            locals_.update(block)
        for block in doc.get("variable", []):
            variables.update(block)
        for block in doc.get("provider", []):
            providers.extend(block.values())
        for block in doc.get("data", []):
            for kind, named in block.items():
                for name in named:
                    data.setdefault(kind, set()).add(name)
    return resources, locals_, variables, providers, data


def expressions(node):
    """Every string in a parsed file except comments, where references live."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item)
    elif isinstance(node, dict):
        for key, item in node.items():
            if key != "__comments__":
                yield key
                yield from expressions(item)


def dangling_references(directory, resources, locals_, variables, data):
    """What `terraform validate` would catch first and this machine cannot run: a reference to
    a variable, local, resource or data source that no file declares."""
    known = {"var": set(variables), "local": set(locals_)}
    missing = set()
    for path in sorted(Path(directory).glob("*.tf")):
        with path.open() as handle:
            doc = unquote(hcl2.load(handle))
        for text in expressions(doc):
            for scope, name in re.findall(r"\b(var|local)\.([a-z_][a-z0-9_]*)", text):
                if name not in known[scope]:
                    missing.add(f"{path.name}: {scope}.{name}")
            for kind, name in re.findall(r"\bdata\.([a-z0-9_]+)\.([a-z0-9_]+)", text):
                if name not in data.get(kind, set()):
                    missing.add(f"{path.name}: data.{kind}.{name}")
            for kind, name in re.findall(r"(?<![.\w])((?:aws|random)_[a-z0-9_]+)\.([a-z0-9_]+)", text):
                if name not in resources.get(kind, {}):
                    missing.add(f"{path.name}: {kind}.{name}")
    return sorted(missing)


def first(body, key):
    """A nested block comes as a list of one dict."""
    value = body.get(key)
    return value[0] if isinstance(value, list) and value and isinstance(value[0], dict) else value


def main(directory):
    resources, locals_, variables, providers, data = load(directory)
    broken = [f"{ref} is referenced but not declared" for ref in
              dangling_references(directory, resources, locals_, variables, data)]

    def expect(condition, rule):
        if not condition:
            broken.append(rule)

    def each(kind):
        return resources.get(kind, {}).items()

    expect(resources, f"no resources found in {directory}")

    # Logs: six years, under the CMK.
    expect(locals_.get("log_retention_days") == 2192, "local.log_retention_days is 2192 (six years)")
    groups = dict(each("aws_cloudwatch_log_group"))
    expect(len(groups) >= 5, "app, flow, exec, RDS and WAF log groups are declared")
    for name, group in groups.items():
        expect(group.get("retention_in_days") in (2192, "${local.log_retention_days}"),
               f"log group {name} keeps its events 2192 days")
        expect("aws_kms_key.main" in str(group.get("kms_key_id")), f"log group {name} is encrypted with the CMK")

    for name, key in each("aws_kms_key"):
        expect(key.get("enable_key_rotation") is True, f"KMS key {name} rotates")

    # Tags for compliance tracking on every resource.
    tags = locals_.get("tags", "")
    for tag in ("Project", "Environment", "DataClassification", "Compliance", "Owner"):
        expect(tag in str(tags), f"local.tags carries {tag}")
    expect(any("${local.tags}" in str(first(p, "default_tags")) for p in providers),
           "the aws provider applies local.tags as default_tags")

    # Database.
    dbs = dict(each("aws_db_instance"))
    expect(len(dbs) == 1, "one RDS instance")
    for name, db in dbs.items():
        wanted = {
            "engine": "postgres", "storage_encrypted": True, "backup_retention_period": 35,
            "deletion_protection": True, "multi_az": True, "iam_database_authentication_enabled": True,
            "manage_master_user_password": True, "publicly_accessible": False,
            "performance_insights_enabled": True, "auto_minor_version_upgrade": True,
            "copy_tags_to_snapshot": True, "skip_final_snapshot": False,
        }
        for key, value in wanted.items():
            expect(db.get(key) == value, f"RDS {name}: {key} = {json.dumps(value)}")
        for key in ("kms_key_id", "master_user_secret_kms_key_id", "performance_insights_kms_key_id"):
            expect("aws_kms_key.main" in str(db.get(key)), f"RDS {name}: {key} is the CMK")
        expect(db.get("monitoring_interval", 0) > 0, f"RDS {name}: enhanced monitoring is on")
        expect(set(db.get("enabled_cloudwatch_logs_exports", [])) >= {"postgresql"},
               f"RDS {name}: exports the postgresql log")
        expect(db.get("vpc_security_group_ids") == ["${aws_security_group.db.id}"],
               f"RDS {name}: only the db security group")
    params = {}
    for group in resources.get("aws_db_parameter_group", {}).values():
        params.update({p["name"]: str(p["value"]) for p in group.get("parameter", [])})
    for key, value in {"rds.force_ssl": "1", "log_connections": "1", "log_disconnections": "1",
                       "log_parameter_max_length": "0"}.items():
        expect(params.get(key) == value, f"DB parameter {key} = {value}")
    db_ingress = [r for r in resources.get("aws_vpc_security_group_ingress_rule", {}).values()
                  if r.get("security_group_id") == "${aws_security_group.db.id}"]
    expect(db_ingress and all(r.get("referenced_security_group_id") == "${aws_security_group.tasks.id}"
                              and "cidr_ipv4" not in r for r in db_ingress),
           "the database accepts connections from the tasks' security group only")

    # Edge: TLS 1.2+ and an HTTP listener that only redirects.
    listeners = dict(each("aws_lb_listener"))
    https = [l for l in listeners.values() if l.get("protocol") == "HTTPS"]
    http = [l for l in listeners.values() if l.get("protocol") == "HTTP"]
    expect(https and all(l.get("ssl_policy") == "ELBSecurityPolicy-TLS13-1-2-2021-06" for l in https),
           "HTTPS listeners use ELBSecurityPolicy-TLS13-1-2-2021-06")
    expect(http and all(first(l, "default_action").get("type") == "redirect"
                        and first(first(l, "default_action"), "redirect").get("protocol") == "HTTPS"
                        for l in http), "every HTTP listener only redirects to HTTPS")
    for name, lb in each("aws_lb"):
        expect(lb.get("drop_invalid_header_fields") is True, f"ALB {name} drops invalid headers")
        expect(lb.get("enable_deletion_protection") is True, f"ALB {name} has deletion protection")
    for name, tg in each("aws_lb_target_group"):
        expect(first(tg, "health_check").get("path") == "/readyz", f"target group {name} checks /readyz")

    # Network: private subnets have no way out but the endpoints.
    for name, route in each("aws_route"):
        expect("aws_route_table.private" not in str(route.get("route_table_id")),
               f"route {name} is not in the private route table")
    for name, table in each("aws_route_table"):
        expect("route" not in table, f"route table {name} has no inline routes")
    expect("${aws_route_table.private.id}" in str(resources.get("aws_vpc_endpoint", {}).get("s3", {})),
           "the S3 gateway endpoint serves the private route table")
    expect(resources.get("aws_default_security_group"), "the default security group is managed (and empty)")
    for name, group in each("aws_default_security_group"):
        expect("ingress" not in group and "egress" not in group, f"default security group {name} has no rules")
    expect(resources.get("aws_flow_log"), "VPC flow logs are on")

    # The app's task and service.
    app = locals_.get("app_container", {})
    expect(app.get("user") == "65532:65532", "the app runs as 65532:65532")
    expect(app.get("readonlyRootFilesystem") is True, "the app's root filesystem is read-only")
    expect(app.get("privileged") is False, "the app is not privileged")
    expect(app.get("healthCheck", {}).get("command") == ["CMD", "/app/server", "healthcheck"],
           "the container health check is /app/server healthcheck")
    # A concat() expression once optional secrets join in, so it is read as text.
    secrets = str(app.get("secrets"))
    for name in ("APP_KEYS__MATERIAL", "APP_DATABASE__URL"):
        expect(re.search(rf"name\W+{name}\W", secrets), f"{name} comes from Secrets Manager")
    expect(app.get("logConfiguration", {}).get("logDriver") == "awslogs", "the app logs through awslogs")
    env = locals_.get("app_environment", "")
    expect('APP_ENVIRONMENT = "production"' in str(env) or "'APP_ENVIRONMENT': 'production'" in str(env),
           "APP_ENVIRONMENT is production")
    for name, service in each("aws_ecs_service"):
        network = first(service, "network_configuration") or {}
        breaker = first(service, "deployment_circuit_breaker") or {}
        expect(network.get("assign_public_ip") is False, f"service {name} has no public addresses")
        expect("aws_subnet.private" in str(network.get("subnets")), f"service {name} runs in the private subnets")
        expect(service.get("enable_execute_command") is False, f"service {name} has ECS exec off")
        expect(breaker.get("enable") is True and breaker.get("rollback") is True,
               f"service {name} rolls back a failed deployment")
    count = variables.get("desired_count", {})
    expect(count.get("default", 0) >= 2 and re.search(r">=\s*2", str(count.get("validation"))),
           "desired_count is at least 2 and validated")
    for name, secret in each("aws_secretsmanager_secret"):
        expect("aws_kms_key.main" in str(secret.get("kms_key_id")), f"secret {name} is encrypted with the CMK")

    for rule in broken:
        print(f"policy: FAILED {rule}", file=sys.stderr)
    checked = "all rules hold" if not broken else f"{len(broken)} rule(s) broken"
    print(f"policy: {checked} ({sum(len(v) for v in resources.values())} resources read)")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "deploy/terraform/aws"))
