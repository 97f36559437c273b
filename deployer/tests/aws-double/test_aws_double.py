"""Tests of the stricter AWS double (aws_double.py): one test per rule, against the double
started as a subprocess on a free loopback port, driven with boto3.

    /work/main/.venv/moto/bin/python -m unittest discover -s deployer/tests/aws-double
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "aws_double.py")
REGION = "us-east-1"

# Short timings for the double's own tests.
# Windows a test observes with several calls are about a second: the machine may be busy.
TASK_START = 0.3
TARGET_INITIAL = 0.6
DRAIN_CAP = 0.8
SERVICE_DRAIN = 0.8
ENI_LINGER = 1.0
NAT_DELETE = 1.0
ROLE_PROPAGATION = 0.5
CONSISTENCY = 1.0
DB_CREATE = 1.5
DB_MODIFY = 1.0
DB_DELETE = 1.5
TIMINGS = {
    "DOUBLE_TASK_START_SECONDS": str(TASK_START),
    "DOUBLE_TARGET_INITIAL_SECONDS": str(TARGET_INITIAL),
    "DOUBLE_DRAIN_CAP_SECONDS": str(DRAIN_CAP),
    "DOUBLE_SERVICE_DRAIN_SECONDS": str(SERVICE_DRAIN),
    "DOUBLE_ENI_LINGER_SECONDS": str(ENI_LINGER),
    "DOUBLE_NAT_DELETE_SECONDS": str(NAT_DELETE),
    "DOUBLE_ROLE_PROPAGATION_SECONDS": str(ROLE_PROPAGATION),
    "DOUBLE_CONSISTENCY_SECONDS": str(CONSISTENCY),
    "DOUBLE_DB_CREATE_SECONDS": str(DB_CREATE),
    "DOUBLE_DB_MODIFY_SECONDS": str(DB_MODIFY),
    "DOUBLE_DB_DELETE_SECONDS": str(DB_DELETE),
    "DOUBLE_ALARM_RATE": "3",
    "DOUBLE_DESCRIBE_RATE": "40",
    "DOUBLE_PAGE_SIZE": "2",
}

EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
S3_POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'
)
ECS_TASKS_TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    '"Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Double:
    """The double as a subprocess, exactly as dashctl's tests start it."""

    def __init__(self, extra_env: dict[str, str] | None = None, stdin: int = subprocess.DEVNULL):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOUBLE_")}
        env.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)
        env.update(TIMINGS)
        env.update(extra_env or {})
        self.log = tempfile.NamedTemporaryFile(prefix="aws-double-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [sys.executable, DOUBLE, "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
            stdin=stdin,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the double did not start; see {self.log.name}")
                time.sleep(0.1)

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        urllib.request.urlopen(request, timeout=30).read()

    def client(self, service: str, account: str, attempts: int = 1):  # type: ignore[no-untyped-def]
        """A client acting in `account` (moto's x-moto-account-id header): every test gets an
        account of its own instead of a reset."""
        client = boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": attempts, "mode": "standard"}),
        )

        def in_account(request, **_):  # type: ignore[no-untyped-def]
            request.headers["x-moto-account-id"] = account

        client.meta.events.register("before-sign.*.*", in_account)
        return client

    def stop(self) -> None:
        """Stops the double; fails if it logged a traceback (a bug in a patch, or a 500)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        with open(self.log.name, encoding="utf-8", errors="replace") as log:
            text = log.read()
        os.unlink(self.log.name)
        problems = [line for line in text.splitlines() if "Traceback" in line or "internal error" in line
                    or '" 500 -' in line]
        if problems:
            start = max(0, text.find("Traceback") - 200)
            raise AssertionError(f"the double logged errors: {problems[:5]}\n{text[start:start + 4000]}")


MAIN: Double | None = None


def setUpModule() -> None:
    global MAIN
    MAIN = Double()


def tearDownModule() -> None:
    if MAIN is not None:
        MAIN.stop()


ACCOUNTS = iter(range(210000000001, 219999999999))


class DoubleTest(unittest.TestCase):
    double: Double | None = None  # None: the module's main double

    def setUp(self) -> None:
        self.aws = self.double or MAIN
        assert self.aws is not None
        self.account = str(next(ACCOUNTS))
        self.ec2 = self.client("ec2")
        self.elb = self.client("elbv2")
        self.ecs = self.client("ecs")
        self.iam = self.client("iam")
        self.scaling = self.client("application-autoscaling")
        self.cloudwatch = self.client("cloudwatch")
        self.logs = self.client("logs")
        self.ssm = self.client("ssm")
        self.rds = self.client("rds")
        self.secrets = self.client("secretsmanager")

    def client(self, service: str, attempts: int = 1):  # type: ignore[no-untyped-def]
        assert self.aws is not None
        return self.aws.client(service, self.account, attempts)

    # ---- assertions
    def assertError(self, code: str, call, *args, message: str | None = None, **kwargs) -> dict:  # type: ignore[no-untyped-def]
        with self.assertRaises(ClientError) as caught:
            call(*args, **kwargs)
        response = caught.exception.response
        self.assertEqual(response["Error"]["Code"], code, response["Error"])
        self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 400)
        if message is not None:
            self.assertIn(message, response["Error"]["Message"])
        return response["Error"]

    def assertThrottled(self, call, rate: int, code: str) -> None:  # type: ignore[no-untyped-def]
        """rate + 1 calls within one second: one is refused. A busy machine may not manage
        that many calls in a second; then the burst is tried again."""
        for _ in range(5):
            time.sleep(1.05)  # a fresh window
            started = time.monotonic()
            try:
                for _ in range(rate + 1):
                    call()
            except ClientError as error:
                self.assertEqual(error.response["Error"]["Code"], code)
                self.assertEqual(error.response["Error"]["Message"], "Rate exceeded")
                self.assertEqual(error.response["ResponseMetadata"]["HTTPStatusCode"], 400)
                return
            self.assertGreaterEqual(time.monotonic() - started, 1.0, f"{rate + 1} calls in a second, none refused")
        self.skipTest("this machine is too busy to make the calls within a second")

    def assertPaged(self, client, operation: str, items: str, more: str, asking: dict,  # type: ignore[no-untyped-def]
                    pages: dict | None = None, **params) -> list:
        """`operation` asked for many items at once (`asking`, e.g. {"MaxResults": 100}) still
        answers one page of the double's size (2), its `more` field (NextToken, Marker,
        IsTruncated) saying there is more; returns what boto's paginator reads from all pages
        (the search expression `items`, e.g. "Roles[].RoleName"; `pages`: its PaginationConfig)."""
        page = getattr(client, operation)(**params, **asking)
        self.assertEqual(len(page[items.split("[")[0]]), 2)
        self.assertTrue(page.get(more), f"{more} in {page}")
        paginate = client.get_paginator(operation).paginate
        return list((paginate(**params, PaginationConfig=pages) if pages else paginate(**params)).search(items))

    def wait_until(self, probe, timeout: float = 5.0, what: str = "condition"):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                self.fail(f"timed out waiting for {what}; last value {value!r}")
            time.sleep(0.04)

    # ---- fixtures
    def network(self, cidr: str = "10.0.0.0/16") -> tuple[str, list[str], str]:
        vpc = self.ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        prefix = cidr.rsplit(".", 2)[0]
        subnets = [
            self.ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"{prefix}.{index}.0/24", AvailabilityZone=f"{REGION}{zone}"
            )["Subnet"]["SubnetId"]
            for index, zone in ((1, "a"), (2, "b"))
        ]
        group = self.ec2.create_security_group(GroupName=f"g-{vpc}", Description="d", VpcId=vpc)["GroupId"]
        self.settle(*subnets, group)
        return vpc, subnets, group

    def security_group(self, vpc: str, name: str) -> str:
        group = self.ec2.create_security_group(GroupName=name, Description="d", VpcId=vpc)["GroupId"]
        self.settle(group)
        return group

    def settle(self, *ids: str) -> None:
        """Uses up R9's one failure per new id (as a client that retries *.NotFound would)."""
        for resource in ids:
            try:
                self.ec2.create_tags(Resources=[resource], Tags=[{"Key": "settled", "Value": "yes"}])
            except ClientError as error:
                self.assertIn(error.response["Error"]["Code"], ("InvalidGroup.NotFound", "InvalidSubnetID.NotFound"))
                self.ec2.create_tags(Resources=[resource], Tags=[{"Key": "settled", "Value": "yes"}])

    def linked_roles(self) -> None:
        self.iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
        self.iam.create_service_linked_role(AWSServiceName="ecs.application-autoscaling.amazonaws.com")

    def target_group(self, vpc: str, name: str) -> str:
        return self.elb.create_target_group(
            Name=name, Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip", HealthCheckPath="/health"
        )["TargetGroups"][0]["TargetGroupArn"]

    def balancer(self, vpc: str, subnets: list[str], group: str) -> tuple[str, dict[str, str], str]:
        """An ALB whose port-80 listener sends blue 100 and green 0 (both attached)."""
        lb = self.elb.create_load_balancer(Name="lb", Subnets=subnets, SecurityGroups=[group])
        lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
        groups = {color: self.target_group(vpc, f"web-{color}") for color in ("blue", "green")}
        listener = self.elb.create_listener(
            LoadBalancerArn=lb_arn,
            Protocol="HTTP",
            Port=80,
            DefaultActions=[self.weighted(groups["blue"], 100, groups["green"], 0)],
        )["Listeners"][0]["ListenerArn"]
        return lb_arn, groups, listener

    @staticmethod
    def weighted(first: str, first_weight: int, second: str, second_weight: int) -> dict:
        return {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": first, "Weight": first_weight},
                    {"TargetGroupArn": second, "Weight": second_weight},
                ]
            },
        }

    def task_definition(self, image: str, family: str = "web", **roles: str) -> str:
        return self.ecs.register_task_definition(
            family=family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {"name": "web", "image": image, "essential": True, "portMappings": [{"containerPort": 8080}]}
            ],
            **roles,
        )["taskDefinition"]["taskDefinitionArn"]

    def service(
        self,
        name: str,
        task_definition: str,
        target_group: str | None,
        count: int,
        subnets: list[str],
        group: str,
        **extra,  # type: ignore[no-untyped-def]
    ) -> dict:
        arguments = dict(
            cluster="c",
            serviceName=name,
            taskDefinition=task_definition,
            desiredCount=count,
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [group]}},
            deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200},
        )
        if target_group:
            arguments["loadBalancers"] = [
                {"targetGroupArn": target_group, "containerName": "web", "containerPort": 8080}
            ]
        arguments.update(extra)
        return self.ecs.create_service(**arguments)["service"]

    def describe(self, name: str) -> dict:
        return self.ecs.describe_services(cluster="c", services=[name])["services"][0]

    def health(self, target_group: str) -> list[dict]:
        return self.elb.describe_target_health(TargetGroupArn=target_group)["TargetHealthDescriptions"]

    def states(self, target_group: str) -> list[str]:
        return sorted(entry["TargetHealth"]["State"] for entry in self.health(target_group))

    def ecs_ready(self) -> tuple[str, list[str], str]:
        vpc, subnets, group = self.network()
        self.linked_roles()
        self.ecs.create_cluster(clusterName="c")
        return vpc, subnets, group

    def web_blue_running(self, tasks: int) -> None:
        """ECS ready and web-blue running `tasks` nginx:1 tasks behind an ALB's blue target group."""
        vpc, subnets, group = self.ecs_ready()
        _, groups, _ = self.balancer(vpc, subnets, group)
        td = self.task_definition("nginx:1")
        self.service("web-blue", td, groups["blue"], tasks, subnets, group)
        self.wait_until(lambda: self.describe("web-blue")["runningCount"] == tasks, what=f"{tasks} running task(s)")

    def enis(self, prefix: str) -> list[dict]:
        return [
            eni
            for eni in self.ec2.describe_network_interfaces()["NetworkInterfaces"]
            if eni.get("Description", "").startswith(prefix)
        ]

    def db_instance(self, name: str, subnet_group: str, group: str, **extra) -> dict:  # type: ignore[no-untyped-def]
        """A PostgreSQL instance as dashctl creates one (RDS manages the master password)."""
        arguments = dict(
            DBInstanceIdentifier=name,
            Engine="postgres",
            DBInstanceClass="db.t4g.micro",
            AllocatedStorage=20,
            MasterUsername="app",
            ManageMasterUserPassword=True,
            StorageEncrypted=True,
            BackupRetentionPeriod=7,
            VpcSecurityGroupIds=[group],
            DBSubnetGroupName=subnet_group,
            Tags=[{"Key": "app", "Value": name}],
        )
        arguments.update(extra)
        return self.rds.create_db_instance(**arguments)["DBInstance"]

    def db(self, name: str) -> dict:
        return self.rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]

    def db_available(self, name: str) -> None:
        self.wait_until(lambda: self.db(name)["DBInstanceStatus"] == "available", what=f"{name} available")

    def gone(self, code: str, call, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        """True when call fails with code (a *NotFound, which may be HTTP 404)."""
        try:
            call(**kwargs)
            return False
        except ClientError as error:
            self.assertEqual(error.response["Error"]["Code"], code)
            return True

    def try_delete(self, call, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        try:
            call(**kwargs)
            return True
        except ClientError as error:
            self.assertEqual(error.response["Error"]["Code"], "DependencyViolation")
            return False


class Rules(DoubleTest):
    def test_r1_service_target_group_needs_a_listener(self) -> None:
        vpc, subnets, group = self.ecs_ready()
        _, groups, listener = self.balancer(vpc, subnets, group)
        orphan = self.target_group(vpc, "orphan")
        td = self.task_definition("nginx:1")
        self.assertError(
            "InvalidParameterException",
            self.service, "web-orphan", td, orphan, 1, subnets, group,
            message=f"The target group with targetGroupArn {orphan} does not have an associated load balancer.",
        )
        # Weight 0 in a ForwardConfig still attaches the group.
        self.service("web-green", td, groups["green"], 0, subnets, group)
        self.assertError(
            "InvalidParameterException",
            self.ecs.update_service, cluster="c", service="web-green",
            loadBalancers=[{"targetGroupArn": orphan, "containerName": "web", "containerPort": 8080}],
            message="does not have an associated load balancer",
        )
        # A listener rule forwarding to it attaches it too, and LoadBalancerArns follow.
        self.elb.create_rule(
            ListenerArn=listener, Priority=10,
            Conditions=[{"Field": "path-pattern", "Values": ["/orphan/*"]}],
            Actions=[{"Type": "forward", "TargetGroupArn": orphan}],
        )
        self.service("web-orphan", td, orphan, 0, subnets, group)
        described = self.elb.describe_target_groups(TargetGroupArns=[orphan])["TargetGroups"][0]
        self.assertEqual(len(described["LoadBalancerArns"]), 1)

    def test_r2_tasks_are_targets_with_health(self) -> None:
        vpc, subnets, group = self.ecs_ready()
        _, groups, listener = self.balancer(vpc, subnets, group)
        blue, green = groups["blue"], groups["green"]
        td1 = self.task_definition("nginx:1")
        created = self.service("web-blue", td1, blue, 2, subnets, group)
        self.assertEqual((created["runningCount"], created["pendingCount"]), (0, 2))
        self.assertEqual(created["deploymentConfiguration"]["minimumHealthyPercent"], 100)
        self.assertEqual(self.health(blue), [])  # pending tasks are not registered yet

        def registered() -> bool:
            service = self.describe("web-blue")
            return self.states(blue) == ["initial", "initial"] and service["runningCount"] == 2
        self.wait_until(registered, what="2 initial targets and runningCount 2")
        entry = self.health(blue)[0]
        self.assertTrue(entry["Target"]["Id"].startswith("10.0."), entry)
        self.assertEqual(entry["Target"]["Port"], 8080)
        self.assertEqual(entry["TargetHealth"]["Reason"], "Elb.RegistrationInProgress")
        self.wait_until(lambda: self.states(blue) == ["healthy", "healthy"], what="healthy targets")
        service = self.describe("web-blue")
        self.assertEqual((service["runningCount"], service["pendingCount"]), (2, 0))
        self.assertEqual([d["rolloutState"] for d in service["deployments"]], ["COMPLETED"])

        # An image with the marker fails its health checks (green has weight 0: still attached).
        td_bad = self.task_definition("registry/web:unhealthy-2", family="bad")
        self.service("web-green", td_bad, green, 1, subnets, group)
        self.wait_until(lambda: self.states(green) == ["unhealthy"], what="unhealthy target")
        self.assertEqual(self.health(green)[0]["TargetHealth"]["Reason"], "Target.ResponseCodeMismatch")
        self.assertEqual(self.describe("web-green")["deployments"][0]["rolloutState"], "IN_PROGRESS")

        # No listener forwards to green any more: its targets are unused.
        self.elb.modify_listener(
            ListenerArn=listener, DefaultActions=[{"Type": "forward", "TargetGroupArn": blue}]
        )
        self.assertEqual(self.states(green), ["unused"])
        self.assertEqual(self.health(green)[0]["TargetHealth"]["Reason"], "Target.NotInUse")

        # Scaling in: the surplus target drains, then vanishes.
        self.ecs.update_service(cluster="c", service="web-blue", desiredCount=1)
        self.assertEqual(self.states(blue), ["draining", "healthy"])
        draining = [e for e in self.health(blue) if e["TargetHealth"]["State"] == "draining"][0]
        self.assertEqual(draining["TargetHealth"]["Reason"], "Target.DeregistrationInProgress")
        self.assertEqual(self.describe("web-blue")["runningCount"], 1)
        self.wait_until(lambda: self.states(blue) == ["healthy"], what="drained target gone")

        # A new release: new tasks start, old ones serve until the new are healthy, then drain.
        td2 = self.task_definition("nginx:2")
        updated = self.ecs.update_service(cluster="c", service="web-blue", taskDefinition="web:2")["service"]
        self.assertEqual(updated["taskDefinition"], td2)
        self.assertEqual([d["status"] for d in updated["deployments"]], ["PRIMARY", "ACTIVE"])
        self.assertEqual(updated["deployments"][0]["taskDefinition"], td2)
        self.assertEqual((updated["runningCount"], updated["pendingCount"]), (1, 1))
        self.wait_until(lambda: self.states(blue) == ["healthy", "initial"], what="new target initial")
        self.wait_until(lambda: self.states(blue) == ["draining", "healthy"], what="old target draining")
        self.wait_until(lambda: self.states(blue) == ["healthy"], what="old target gone")
        service = self.describe("web-blue")
        self.assertEqual([d["rolloutState"] for d in service["deployments"]], ["COMPLETED"])
        self.assertEqual(service["runningCount"], 1)

        # Targets registered by hand keep moto's behaviour.
        self.elb.register_targets(TargetGroupArn=blue, Targets=[{"Id": "10.0.9.9", "Port": 8080}])
        by_id = {e["Target"]["Id"]: e["TargetHealth"]["State"] for e in self.health(blue)}
        self.assertEqual(by_id["10.0.9.9"], "healthy")
        self.assertEqual(len(by_id), 2)

    def test_r3_deleted_services_drain(self) -> None:
        vpc, subnets, group = self.ecs_ready()
        td = self.task_definition("nginx:1")
        self.service("api", td, None, 1, subnets, group)
        self.service("other", td, None, 0, subnets, group)
        self.assertError(
            "InvalidParameterException", self.ecs.delete_service, cluster="c", service="api",
            message="The service cannot be stopped while it is scaled above 0.",
        )
        self.assertError(
            "InvalidParameterException", self.service, "other", td, None, 0, subnets, group,
            message="Creation of service was not idempotent.",
        )
        deleted = self.ecs.delete_service(cluster="c", service="api", force=True)["service"]
        self.assertEqual((deleted["status"], deleted["desiredCount"]), ("DRAINING", 0))
        self.assertEqual(self.describe("api")["status"], "DRAINING")
        listed = self.ecs.list_services(cluster="c")["serviceArns"]
        self.assertEqual([arn.rsplit("/", 1)[-1] for arn in listed], ["other"])
        self.assertError(
            "InvalidParameterException", self.service, "api", td, None, 1, subnets, group,
            message="Unable to Start a service that is still Draining.",
        )
        self.assertError(
            "ServiceNotActiveException", self.ecs.update_service, cluster="c", service="api", desiredCount=2
        )
        self.assertEqual(self.ecs.delete_service(cluster="c", service="api")["service"]["status"], "DRAINING")
        self.wait_until(lambda: self.describe("api")["status"] == "INACTIVE", what="INACTIVE")
        self.assertEqual(len(self.ecs.list_services(cluster="c")["serviceArns"]), 1)
        again = self.service("api", td, None, 1, subnets, group)
        self.assertEqual(again["status"], "ACTIVE")

    def test_r4_cluster_with_services_or_tasks_cannot_be_deleted(self) -> None:
        self.web_blue_running(1)
        self.assertError(
            "ClusterContainsServicesException", self.ecs.delete_cluster, cluster="c",
            message="The Cluster cannot be deleted while Services are active.",
        )
        self.ecs.delete_service(cluster="c", service="web-blue", force=True)
        self.assertError("ClusterContainsServicesException", self.ecs.delete_cluster, cluster="c")
        self.wait_until(lambda: self.describe("web-blue")["status"] == "INACTIVE", what="INACTIVE")
        # The service is gone, its task is still stopping (its ENI is being deleted).
        self.assertError(
            "ClusterContainsTasksException", self.ecs.delete_cluster, cluster="c",
            message="The Cluster cannot be deleted while Tasks are active.",
        )

        def deleted() -> bool:
            try:
                return self.ecs.delete_cluster(cluster="c")["cluster"]["status"] == "INACTIVE"
            except ClientError as error:
                self.assertEqual(error.response["Error"]["Code"], "ClusterContainsTasksException")
                return False
        self.wait_until(deleted, what="cluster deleted")

    def test_r5_network_interfaces_linger(self) -> None:
        vpc, subnets, lb_group = self.ecs_ready()
        task_group = self.security_group(vpc, "tasks")
        lb, groups, listener = self.balancer(vpc, subnets, lb_group)
        elb_enis = self.enis("ELB app/lb/")
        self.assertEqual(len(elb_enis), 2)
        self.assertEqual({e["SubnetId"] for e in elb_enis}, set(subnets))
        self.assertEqual({g["GroupId"] for e in elb_enis for g in e["Groups"]}, {lb_group})
        td = self.task_definition("nginx:1")
        self.service("web-blue", td, groups["blue"], 1, subnets, task_group)
        task_enis = self.enis(f"arn:aws:ecs:{REGION}:{self.account}:attachment/")
        self.assertEqual(len(task_enis), 1)
        self.assertEqual(task_enis[0]["Groups"][0]["GroupId"], task_group)

        self.assertError(
            "DependencyViolation", self.ec2.delete_security_group, GroupId=lb_group,
            message=f"resource {lb_group} has a dependent object",
        )
        self.assertError(
            "DependencyViolation", self.ec2.delete_subnet, SubnetId=subnets[0],
            message=f"The subnet '{subnets[0]}' has dependencies and cannot be deleted.",
        )
        self.assertError(
            "DependencyViolation", self.ec2.delete_vpc, VpcId=vpc,
            message=f"The vpc '{vpc}' has dependencies and cannot be deleted.",
        )
        self.assertError("DependencyViolation", self.ec2.delete_security_group, GroupId=task_group)

        # The ECS service goes: its ENI outlives it.
        self.wait_until(lambda: self.describe("web-blue")["runningCount"] == 1, what="running task")
        self.ecs.delete_service(cluster="c", service="web-blue", force=True)
        started = time.monotonic()
        self.assertFalse(self.try_delete(self.ec2.delete_security_group, GroupId=task_group))
        self.wait_until(lambda: self.try_delete(self.ec2.delete_security_group, GroupId=task_group),
                        what="task security group deletable")
        self.assertGreaterEqual(time.monotonic() - started, ENI_LINGER)

        # The load balancer goes: its ENIs linger.
        self.elb.delete_listener(ListenerArn=listener)
        self.elb.delete_load_balancer(LoadBalancerArn=lb)
        self.assertEqual(len(self.enis("ELB app/lb/")), 2)
        self.assertFalse(self.try_delete(self.ec2.delete_security_group, GroupId=lb_group))
        self.assertFalse(self.try_delete(self.ec2.delete_subnet, SubnetId=subnets[0]))
        self.wait_until(lambda: self.try_delete(self.ec2.delete_subnet, SubnetId=subnets[0]),
                        what="subnet deletable")
        self.assertEqual(self.enis("ELB app/lb/"), [])

        # Security groups referenced by another group's rule, and groups left in a VPC.
        source = self.security_group(vpc, "source")
        self.ec2.authorize_security_group_ingress(
            GroupId=lb_group,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                            "UserIdGroupPairs": [{"GroupId": source}]}],
        )
        self.assertError("DependencyViolation", self.ec2.delete_security_group, GroupId=source,
                         message=f"resource {source} has a dependent object")
        self.ec2.delete_subnet(SubnetId=subnets[1])
        self.assertError("DependencyViolation", self.ec2.delete_vpc, VpcId=vpc)
        self.ec2.delete_security_group(GroupId=lb_group)
        self.ec2.delete_security_group(GroupId=source)
        self.ec2.delete_vpc(VpcId=vpc)

    def test_r6_nat_gateways_delete_asynchronously(self) -> None:
        vpc, subnets, _ = self.network()
        gateway = self.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        self.ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
        allocation = self.ec2.allocate_address(Domain="vpc")["AllocationId"]
        nat = self.ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=allocation)["NatGateway"]["NatGatewayId"]
        address = self.ec2.describe_addresses(AllocationIds=[allocation])["Addresses"][0]
        self.assertIn("AssociationId", address)

        self.assertError("InvalidIPAddress.InUse", self.ec2.release_address, AllocationId=allocation)
        self.assertError("DependencyViolation", self.ec2.delete_subnet, SubnetId=subnets[0],
                         message="has dependencies and cannot be deleted")
        self.assertError("DependencyViolation", self.ec2.detach_internet_gateway,
                         InternetGatewayId=gateway, VpcId=vpc, message="mapped public address")

        self.ec2.delete_nat_gateway(NatGatewayId=nat)
        state = self.ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"][0]["State"]
        self.assertEqual(state, "deleting")
        self.assertError("InvalidIPAddress.InUse", self.ec2.release_address, AllocationId=allocation)
        self.assertError("InvalidIPAddress.InUse", self.ec2.disassociate_address,
                         AssociationId=address["AssociationId"])
        self.assertError("DependencyViolation", self.ec2.delete_subnet, SubnetId=subnets[0])
        self.wait_until(
            lambda: self.ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"][0]["State"] == "deleted",
            what="NAT gateway deleted",
        )
        self.assertNotIn("AssociationId", self.ec2.describe_addresses(AllocationIds=[allocation])["Addresses"][0])
        self.ec2.release_address(AllocationId=allocation)
        self.ec2.delete_subnet(SubnetId=subnets[0])
        self.ec2.detach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
        self.assertError("NatGatewayNotFound", self.ec2.delete_nat_gateway, NatGatewayId="nat-0123456789abcdef0")

    def succeeds(self, code: str, call, *args, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        try:
            call(*args, **kwargs)
            return True
        except ClientError as error:
            self.assertEqual(error.response["Error"]["Code"], code)
            return False

    def test_r7_new_roles_are_not_usable_at_once(self) -> None:
        vpc, subnets, group = self.ecs_ready()
        _, groups, _ = self.balancer(vpc, subnets, group)
        self.task_definition("nginx:1")  # ECS is warmed up: the window is short
        role = self.iam.create_role(RoleName="exec", Path="/app/", AssumeRolePolicyDocument=ECS_TASKS_TRUST)
        created = time.monotonic()
        arn = role["Role"]["Arn"]
        self.assertError("ClientException", self.task_definition, "nginx:1", executionRoleArn=arn,
                         message="Role is not valid")
        self.assertError("ClientException", self.task_definition, "nginx:1",
                         taskRoleArn=f"arn:aws:iam::{self.account}:role/app/missing", message="Role is not valid")
        self.wait_until(lambda: self.succeeds("ClientException", self.task_definition, "nginx:1",
                                              executionRoleArn=arn, taskRoleArn=arn), what="role usable")
        self.assertGreaterEqual(time.monotonic() - created, ROLE_PROPAGATION)

        td = self.task_definition("nginx:1")
        service_role = self.iam.create_role(RoleName="ecs-service", AssumeRolePolicyDocument=ECS_TASKS_TRUST)
        self.assertError(
            "InvalidParameterException", self.service, "web-blue", td, groups["blue"], 1, subnets, group,
            role=service_role["Role"]["Arn"], message="Unable to assume role",
        )
        self.wait_until(lambda: self.succeeds("InvalidParameterException", self.service, "web-blue", td,
                                              groups["blue"], 1, subnets, group, role=service_role["Role"]["Arn"]),
                        what="service role usable")

    def test_r8_service_linked_roles(self) -> None:
        vpc, subnets, group = self.network()
        self.ecs.create_cluster(clusterName="c")
        td = self.task_definition("nginx:1")
        self.assertError(
            "InvalidParameterException", self.service, "api", td, None, 1, subnets, group,
            message="Unable to assume the service linked role. Please verify that the ECS service linked role exists.",
        )
        scaling_role = (
            f"arn:aws:iam::{self.account}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/"
            "AWSServiceRoleForApplicationAutoScaling_ECSService"
        )
        ecs_role = self.iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")["Role"]
        self.assertEqual(ecs_role["RoleName"], "AWSServiceRoleForECS")
        self.assertEqual(ecs_role["Path"], "/aws-service-role/ecs.amazonaws.com/")
        self.service("api", td, None, 1, subnets, group)
        register = dict(
            ServiceNamespace="ecs", ResourceId="service/c/api",
            ScalableDimension="ecs:service:DesiredCount", MinCapacity=1, MaxCapacity=3,
        )
        self.assertError("ValidationException", self.scaling.register_scalable_target, **register,
                         message=f"Unable to assume IAM role: {scaling_role}")
        created = self.iam.create_service_linked_role(
            AWSServiceName="ecs.application-autoscaling.amazonaws.com"
        )["Role"]
        self.assertEqual(created["Arn"], scaling_role)
        self.assertError(
            "InvalidInput", self.iam.create_service_linked_role, AWSServiceName="ecs.amazonaws.com",
            message="Service role name AWSServiceRoleForECS has been taken in this account, please try a different suffix.",
        )
        self.assertEqual(self.iam.get_role(RoleName="AWSServiceRoleForECS")["Role"]["Arn"],
                         f"arn:aws:iam::{self.account}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS")
        self.scaling.register_scalable_target(**register)
        target = self.scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"][0]
        self.assertEqual(target["RoleARN"], scaling_role)

    def test_r9_new_ids_are_not_visible_at_once(self) -> None:
        vpc = self.ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
        group = self.ec2.create_security_group(GroupName="web", Description="d", VpcId=vpc)["GroupId"]
        rule = dict(GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                                                   "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        self.assertError("InvalidGroup.NotFound", self.ec2.authorize_security_group_ingress, **rule,
                         message=f"The security group '{group}' does not exist")
        self.ec2.authorize_security_group_ingress(**rule)  # once only
        subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24", AvailabilityZone="us-east-1a")
        subnet_id = subnet["Subnet"]["SubnetId"]
        tags = dict(Resources=[subnet_id], Tags=[{"Key": "Name", "Value": "private"}])
        self.assertError("InvalidSubnetID.NotFound", self.ec2.create_tags, **tags)
        self.ec2.create_tags(**tags)
        # ELBv2 and ECS report missing ids their own way.
        subnet2 = self.ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.2.0/24", AvailabilityZone="us-east-1b")
        lb_group = self.ec2.create_security_group(GroupName="lb", Description="d", VpcId=vpc)["GroupId"]
        lb = dict(Name="lb", Subnets=[subnet_id, subnet2["Subnet"]["SubnetId"]], SecurityGroups=[lb_group])
        self.assertError("SubnetNotFound", self.elb.create_load_balancer, **lb,
                         message="Error Code: InvalidSubnetID.NotFound")
        self.assertError("InvalidSecurityGroup", self.elb.create_load_balancer, **lb,
                         message=f"The security group '{lb_group}' does not exist (Service: AmazonEC2; "
                                 "Status Code: 400; Error Code: InvalidGroup.NotFound;")
        self.elb.create_load_balancer(**lb)
        self.assertError("InvalidSecurityGroup", self.elb.create_load_balancer, Name="lb2",
                         Subnets=[subnet_id], SecurityGroups=["sg-0123456789abcdef0"])
        self.linked_roles()
        self.ecs.create_cluster(clusterName="c")
        td = self.task_definition("nginx:1")
        task_group = self.ec2.create_security_group(GroupName="tasks", Description="d", VpcId=vpc)["GroupId"]
        self.assertError("InvalidParameterException", self.service, "api", td, None, 0, [subnet_id], task_group,
                         message="(ErrorCode: InvalidGroup.NotFound)")
        self.service("api", td, None, 0, [subnet_id], task_group)
        # After the window, the first call works.
        late = self.ec2.create_security_group(GroupName="late", Description="d", VpcId=vpc)["GroupId"]
        time.sleep(CONSISTENCY + 0.05)
        self.ec2.create_tags(Resources=[late], Tags=[{"Key": "k", "Value": "v"}])

    def test_r10_put_metric_alarm_is_throttled(self) -> None:
        def alarm(index: int) -> None:
            self.cloudwatch.put_metric_alarm(
                AlarmName=f"a{index}", Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count",
                Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                ComparisonOperator="GreaterThanThreshold",
            )
        alarm(0)  # warm up: the first call of an account is slow
        self.assertThrottled(lambda: alarm(1), 3, "Throttling")
        # The SDKs' standard retry mode backs off and gets through.
        patient = self.client("cloudwatch", attempts=10)
        for index in range(2, 6):
            patient.put_metric_alarm(
                AlarmName=f"a{index}", Namespace="AWS/ApplicationELB", MetricName="M", Statistic="Sum",
                Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
            )
        self.assertEqual(len(list(self.cloudwatch.get_paginator("describe_alarms").paginate()
                                  .search("MetricAlarms[]"))), 6)

    def test_r11_pagination_of_lists(self) -> None:
        # IAM roles, inline and attached policies.
        for index in range(5):
            self.iam.create_role(RoleName=f"r{index}", Path="/app/", AssumeRolePolicyDocument=ECS_TASKS_TRUST)
        many = {"MaxItems": 100}
        roles = self.assertPaged(self.iam, "list_roles", "Roles[].RoleName", "IsTruncated", many, PathPrefix="/app/")
        self.assertEqual(sorted(roles), [f"r{i}" for i in range(5)])
        for index in range(3):
            self.iam.put_role_policy(RoleName="r0", PolicyName=f"p{index}", PolicyDocument=S3_POLICY)
        names = self.assertPaged(self.iam, "list_role_policies", "PolicyNames[]", "IsTruncated", many, RoleName="r0")
        self.assertEqual(names, ["p0", "p1", "p2"])
        for index in range(3):
            policy = self.iam.create_policy(PolicyName=f"m{index}", PolicyDocument=S3_POLICY)["Policy"]["Arn"]
            self.iam.attach_role_policy(RoleName="r0", PolicyArn=policy)
        attached = self.assertPaged(self.iam, "list_attached_role_policies", "AttachedPolicies[].PolicyName",
                                    "IsTruncated", many, RoleName="r0")
        self.assertEqual(attached, ["m0", "m1", "m2"])

        # Log groups, parameters, alarms.
        for index in range(5):
            self.logs.create_log_group(logGroupName=f"/app/{index}")
            self.ssm.put_parameter(Name=f"/app/p{index}", Value="v", Type="String")
            self.cloudwatch.put_metric_alarm(
                AlarmName=f"app-{index}", Namespace="N", MetricName="M", Statistic="Sum", Period=60,
                EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
            ) if index < 3 else None
        groups = self.assertPaged(self.logs, "describe_log_groups", "logGroups[].logGroupName", "nextToken",
                                  {"limit": 50}, logGroupNamePrefix="/app/")
        self.assertEqual(len(groups), 5)
        parameters = self.assertPaged(self.ssm, "get_parameters_by_path", "Parameters[]", "NextToken",
                                      {"MaxResults": 10}, Path="/app")
        self.assertEqual(len(parameters), 5)
        alarms = self.assertPaged(self.cloudwatch, "describe_alarms", "MetricAlarms[]", "NextToken",
                                  {"MaxRecords": 100}, AlarmNamePrefix="app-")
        self.assertEqual(len(alarms), 3)

    def test_r11_pagination_of_resources(self) -> None:
        vpc, subnets, group = self.ecs_ready()
        # EC2: pages only when asked (MaxResults), like EC2.
        for index in range(3, 6):
            self.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{index}.0/24")
        mine = [{"Name": "vpc-id", "Values": [vpc]}]
        self.assertEqual(len(self.ec2.describe_subnets(Filters=mine)["Subnets"]), 5)
        subnets_read = self.assertPaged(self.ec2, "describe_subnets", "Subnets[]", "NextToken", {"MaxResults": 100},
                                        pages={"PageSize": 100}, Filters=mine)
        self.assertEqual(len(subnets_read), 5)
        for paginator, key in (("describe_security_groups", "SecurityGroups"),
                               ("describe_route_tables", "RouteTables")):
            page = getattr(self.ec2, paginator)(Filters=mine, MaxResults=5)
            self.assertLessEqual(len(page[key]), 2)
        for index in range(3):
            allocation = self.ec2.allocate_address(Domain="vpc")["AllocationId"]
            self.ec2.create_nat_gateway(SubnetId=subnets[index % 2], AllocationId=allocation)
        nats = self.assertPaged(self.ec2, "describe_nat_gateways", "NatGateways[]", "NextToken", {"MaxResults": 5})
        self.assertEqual(len(nats), 3)

        # ELBv2.
        for index in range(3):
            self.elb.create_load_balancer(Name=f"lb{index}", Subnets=subnets, SecurityGroups=[group])
            self.target_group(vpc, f"tg{index}")
        for operation, items in (("describe_load_balancers", "LoadBalancers[]"),
                                 ("describe_target_groups", "TargetGroups[]")):
            found = self.assertPaged(self.elb, operation, items, "NextMarker", {"PageSize": 100})
            self.assertEqual(len(found), 3, operation)

        # ECS services, scalable targets and scaling policies.
        td = self.task_definition("nginx:1")
        for name in ("s1", "s10", "s2"):
            self.service(name, td, None, 0, subnets, group)
            self.scaling.register_scalable_target(
                ServiceNamespace="ecs", ResourceId=f"service/c/{name}",
                ScalableDimension="ecs:service:DesiredCount", MinCapacity=0, MaxCapacity=2,
            )
            self.scaling.put_scaling_policy(
                PolicyName=f"cpu-{name}", ServiceNamespace="ecs", ResourceId=f"service/c/{name}",
                ScalableDimension="ecs:service:DesiredCount", PolicyType="TargetTrackingScaling",
                TargetTrackingScalingPolicyConfiguration={
                    "TargetValue": 50.0,
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
                },
            )
        services = self.assertPaged(self.ecs, "list_services", "serviceArns[]", "nextToken", {"maxResults": 100},
                                    cluster="c")
        self.assertEqual(len(services), 3)
        targets = self.assertPaged(self.scaling, "describe_scalable_targets", "ScalableTargets[]", "NextToken",
                                   {"MaxResults": 50}, ServiceNamespace="ecs")
        self.assertEqual(len(targets), 3)
        self.assertEqual(len(list(self.scaling.get_paginator("describe_scaling_policies")
                                  .paginate(ServiceNamespace="ecs").search("ScalingPolicies[]"))), 3)
        exact = self.scaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId="service/c/s10")
        self.assertEqual([p["PolicyName"] for p in exact["ScalingPolicies"]], ["cpu-s10"])

    def test_r12_forward_weights(self) -> None:
        vpc, subnets, group = self.network()
        _, groups, listener = self.balancer(vpc, subnets, group)
        blue, green = groups["blue"], groups["green"]
        action = self.elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"][0]
        weights = {g["TargetGroupArn"]: g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]}
        self.assertEqual(weights, {blue: 100, green: 0})
        self.assertError("ValidationError", self.elb.modify_listener, ListenerArn=listener,
                         DefaultActions=[self.weighted(blue, 1000, green, 0)], message="999")
        self.assertError("ValidationError", self.elb.modify_listener, ListenerArn=listener,
                         DefaultActions=[self.weighted(blue, 50, blue, 50)])
        self.assertError("ValidationError", self.elb.modify_listener, ListenerArn=listener,
                         DefaultActions=[dict(self.weighted(blue, 90, green, 10), TargetGroupArn=blue)])
        missing = blue.replace("web-blue", "nope")
        self.assertError("TargetGroupNotFound", self.elb.modify_listener, ListenerArn=listener,
                         DefaultActions=[{"Type": "forward", "TargetGroupArn": missing}])
        self.elb.modify_listener(ListenerArn=listener, DefaultActions=[self.weighted(blue, 0, green, 999)])
        action = self.elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"][0]
        self.assertEqual([g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]], [0, 999])

    def test_r13_https_listeners_report_their_policy(self) -> None:
        vpc, subnets, group = self.network()
        lb = self.elb.create_load_balancer(Name="lb", Subnets=subnets, SecurityGroups=[group])
        lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
        target = self.target_group(vpc, "web")
        certificate = self.client("acm").request_certificate(DomainName="example.com")["CertificateArn"]
        forward = [{"Type": "forward", "TargetGroupArn": target}]
        http = self.elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=80,
                                        DefaultActions=forward)["Listeners"][0]
        self.assertNotIn("SslPolicy", http)
        https = self.elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTPS", Port=443,
                                         Certificates=[{"CertificateArn": certificate}],
                                         DefaultActions=forward)["Listeners"][0]
        self.assertEqual(https["SslPolicy"], "ELBSecurityPolicy-2016-08")
        self.elb.modify_listener(ListenerArn=https["ListenerArn"], SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06")
        described = {l["Port"]: l for l in self.elb.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]}
        self.assertEqual(described[443]["SslPolicy"], "ELBSecurityPolicy-TLS13-1-2-2021-06")
        self.assertNotIn("SslPolicy", described[80])
        self.elb.modify_listener(ListenerArn=https["ListenerArn"], Protocol="HTTP", Port=8443)
        described = self.elb.describe_listeners(ListenerArns=[https["ListenerArn"]])["Listeners"][0]
        self.assertNotIn("SslPolicy", described)
        self.elb.modify_listener(ListenerArn=http["ListenerArn"], Protocol="HTTPS",
                                 Certificates=[{"CertificateArn": certificate}])
        described = self.elb.describe_listeners(ListenerArns=[http["ListenerArn"]])["Listeners"][0]
        self.assertEqual(described["SslPolicy"], "ELBSecurityPolicy-2016-08")

    def test_r14_rds_instances_are_created_and_modified_in_time(self) -> None:
        _, subnets, group = self.network()
        self.assertError(
            "DBSubnetGroupDoesNotCoverEnoughAZs", self.rds.create_db_subnet_group,
            DBSubnetGroupName="one", DBSubnetGroupDescription="d", SubnetIds=[subnets[0]],
            message="The DB subnet group doesn't meet Availability Zone (AZ) coverage requirement. "
                    f"Current AZ coverage: {REGION}a. Add subnets to cover at least 2 AZs.",
        )
        self.rds.create_db_subnet_group(DBSubnetGroupName="app", DBSubnetGroupDescription="d", SubnetIds=subnets)
        self.assertError("DBSubnetGroupDoesNotCoverEnoughAZs", self.rds.modify_db_subnet_group,
                         DBSubnetGroupName="app", SubnetIds=[subnets[1]])
        self.assertEqual(len(self.rds.describe_db_subnet_groups(DBSubnetGroupName="app")["DBSubnetGroups"][0]
                             ["Subnets"]), 2)
        self.assertError("InvalidParameterCombination", self.db_instance, "app", "app", group,
                         MasterUserPassword="correct-horse-battery")
        self.assertError("InvalidParameterValue", self.db_instance, "app", "app", group,
                         ManageMasterUserPassword=False,
                         message="The parameter MasterUserPassword must be provided and must not be blank.")

        # Creating: no endpoint yet, nothing can be changed.
        started = time.monotonic()
        created = self.db_instance("app", "app", group, DeletionProtection=True)
        self.assertEqual(created["DBInstanceStatus"], "creating")
        self.assertNotIn("Endpoint", created)
        described = self.db("app")
        self.assertEqual(described["DBInstanceStatus"], "creating")
        self.assertNotIn("Endpoint", described)
        self.assertError("InvalidDBInstanceState", self.rds.modify_db_instance, DBInstanceIdentifier="app",
                         BackupRetentionPeriod=14, ApplyImmediately=True,
                         message="Database instance is not in available state.")
        self.db_available("app")
        self.assertGreaterEqual(time.monotonic() - started, DB_CREATE)
        described = self.db("app")
        self.assertEqual(described["Endpoint"]["Port"], 5432)
        self.assertTrue(described["Endpoint"]["Address"])
        self.secrets.describe_secret(SecretId=described["MasterUserSecret"]["SecretArn"])
        self.assertError("InvalidDBSubnetGroupStateFault", self.rds.delete_db_subnet_group, DBSubnetGroupName="app",
                         message="Cannot delete the subnet group 'app' because at least one database instance: "
                                 "app is still using it.")
        self.assertError("DependencyViolation", self.ec2.delete_security_group, GroupId=group,
                         message=f"resource {group} has a dependent object")

        # Modifying: applied, and nothing else can be changed until it is available again.
        started = time.monotonic()
        modified = self.rds.modify_db_instance(DBInstanceIdentifier="app", BackupRetentionPeriod=14,
                                               ApplyImmediately=True)["DBInstance"]
        self.assertEqual(modified["DBInstanceStatus"], "modifying")
        self.assertError("InvalidDBInstanceState", self.rds.modify_db_instance, DBInstanceIdentifier="app",
                         DeletionProtection=False, ApplyImmediately=True)
        self.db_available("app")
        self.assertGreaterEqual(time.monotonic() - started, DB_MODIFY)
        self.assertEqual(self.db("app")["BackupRetentionPeriod"], 14)
        self.rds.modify_db_instance(DBInstanceIdentifier="app", DeletionProtection=False, ApplyImmediately=True)
        self.db_available("app")
        self.assertFalse(self.db("app")["DeletionProtection"])

    def test_r14_rds_instances_are_deleted_in_time(self) -> None:
        _, subnets, group = self.network()
        self.rds.create_db_subnet_group(DBSubnetGroupName="app", DBSubnetGroupDescription="d", SubnetIds=subnets)

        # An instance still being created can be deleted, only without a final snapshot.
        self.db_instance("scratch", "app", group)
        self.assertError("InvalidDBInstanceState", self.rds.delete_db_instance, DBInstanceIdentifier="scratch",
                         FinalDBSnapshotIdentifier="scratch-final",
                         message="Instance scratch is currently creating - a final snapshot cannot be taken.")
        deleted = self.rds.delete_db_instance(DBInstanceIdentifier="scratch", SkipFinalSnapshot=True)["DBInstance"]
        self.assertEqual(deleted["DBInstanceStatus"], "deleting")
        self.assertError("InvalidDBInstanceState", self.rds.delete_db_instance, DBInstanceIdentifier="scratch",
                         SkipFinalSnapshot=True, message="Instance scratch is already being deleted.")
        self.wait_until(lambda: self.gone("DBInstanceNotFound", self.db, name="scratch"), what="scratch gone")

        self.db_instance("app", "app", group, DeletionProtection=True)
        self.db_available("app")
        secret = self.db("app")["MasterUserSecret"]["SecretArn"]
        self.assertError("InvalidParameterCombination", self.rds.delete_db_instance, DBInstanceIdentifier="app",
                         FinalDBSnapshotIdentifier="app-final",
                         message="Cannot delete protected DB Instance, please disable deletion protection and try again.")
        self.rds.modify_db_instance(DBInstanceIdentifier="app", DeletionProtection=False, ApplyImmediately=True)
        self.assertError("InvalidDBInstanceState", self.rds.delete_db_instance, DBInstanceIdentifier="app",
                         FinalDBSnapshotIdentifier="app-final",
                         message="Instance app is currently modifying - a final snapshot cannot be taken.")
        self.db_available("app")
        self.assertError("InvalidParameterCombination", self.rds.delete_db_instance, DBInstanceIdentifier="app",
                         message="FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
        self.assertError("InvalidParameterCombination", self.rds.delete_db_instance, DBInstanceIdentifier="app",
                         FinalDBSnapshotIdentifier="app-final", SkipFinalSnapshot=True)

        # Deleting: still listed and still holding its subnet group, security group and secret.
        started = time.monotonic()
        deleted = self.rds.delete_db_instance(DBInstanceIdentifier="app", FinalDBSnapshotIdentifier="app-final",
                                              DeleteAutomatedBackups=False)["DBInstance"]
        self.assertEqual(deleted["DBInstanceStatus"], "deleting")
        self.assertEqual([d["DBInstanceStatus"] for d in self.rds.describe_db_instances()["DBInstances"]],
                         ["deleting"])
        self.assertError("InvalidDBInstanceState", self.rds.modify_db_instance, DBInstanceIdentifier="app",
                         BackupRetentionPeriod=1, ApplyImmediately=True)
        self.assertError("DBInstanceAlreadyExists", self.db_instance, "app", "app", group)
        self.assertError("InvalidDBSubnetGroupStateFault", self.rds.delete_db_subnet_group, DBSubnetGroupName="app")
        self.assertError("DependencyViolation", self.ec2.delete_security_group, GroupId=group)
        self.secrets.describe_secret(SecretId=secret)
        snapshots = self.rds.describe_db_snapshots(DBSnapshotIdentifier="app-final")["DBSnapshots"]
        self.assertEqual([s["DBInstanceIdentifier"] for s in snapshots], ["app"])

        # Gone: its secret with it; the subnet group and security group can go.
        self.wait_until(lambda: self.gone("DBInstanceNotFound", self.db, name="app"), what="app gone")
        self.assertGreaterEqual(time.monotonic() - started, DB_DELETE)
        self.assertTrue(self.gone("ResourceNotFoundException", self.secrets.describe_secret, SecretId=secret))
        self.rds.delete_db_subnet_group(DBSubnetGroupName="app")
        self.ec2.delete_security_group(GroupId=group)

    def test_r15_scheduled_actions_need_a_target_and_run_at_their_time(self) -> None:
        self.web_blue_running(2)
        target = dict(ServiceNamespace="ecs", ResourceId="service/c/web-blue",
                      ScalableDimension="ecs:service:DesiredCount")
        due = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 2))
        action = dict(target, ScheduledActionName="later", Schedule=f"at({due})",
                      ScalableTargetAction={"MinCapacity": 0, "MaxCapacity": 0})
        self.assertError("ObjectNotFoundException", self.scaling.put_scheduled_action, **action,
                         message="No scalable target registered for service namespace: ecs, resource ID: service/c/web-blue")
        self.scaling.register_scalable_target(**target, MinCapacity=2, MaxCapacity=2)
        self.assertError("ValidationException", self.scaling.put_scheduled_action,
                         **dict(action, Schedule="tomorrow"))

        # Deregistering the target deletes its scheduled actions.
        self.scaling.put_scheduled_action(**action)
        self.scaling.deregister_scalable_target(**target)
        self.assertEqual(self.scaling.describe_scheduled_actions(ServiceNamespace="ecs")["ScheduledActions"], [])

        # A one-time action scales the service into its range once its time has passed.
        self.scaling.register_scalable_target(**target, MinCapacity=2, MaxCapacity=2)
        self.scaling.put_scheduled_action(**action)
        self.assertEqual(self.describe("web-blue")["desiredCount"], 2)
        self.wait_until(lambda: self.describe("web-blue")["desiredCount"] == 0, timeout=8.0,
                        what="the scheduled action to scale the service to 0")
        scalable = self.scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"][0]
        self.assertEqual((scalable["MinCapacity"], scalable["MaxCapacity"]), (0, 0))
        self.wait_until(lambda: self.describe("web-blue")["runningCount"] == 0, what="tasks stopped")
        self.assertEqual(len(self.scaling.describe_scheduled_actions(ServiceNamespace="ecs")["ScheduledActions"]), 1)

    def test_r11_pagination_of_databases(self) -> None:
        _, subnets, group = self.network()
        for index in range(3):
            self.rds.create_db_subnet_group(DBSubnetGroupName=f"g{index}", DBSubnetGroupDescription="d",
                                            SubnetIds=subnets)
            self.db_instance(f"db{index}", f"g{index}", group)
        many = {"MaxRecords": 100}
        names = self.assertPaged(self.rds, "describe_db_subnet_groups", "DBSubnetGroups[].DBSubnetGroupName", "Marker",
                                 many)
        self.assertEqual(sorted(names), ["g0", "g1", "g2"])
        names = self.assertPaged(self.rds, "describe_db_instances", "DBInstances[].DBInstanceIdentifier", "Marker", many)
        self.assertEqual(sorted(names), ["db0", "db1", "db2"])

    def test_r16_tasks_are_listed_by_service_and_desired_status(self) -> None:
        vpc, subnets, group = self.ecs_ready()
        td = self.task_definition("nginx:1")
        self.service("web-blue", td, None, 3, subnets, group)
        self.service("web-green", td, None, 1, subnets, group)

        def ids(service: str, status: str | None = None) -> list[str]:
            status_filter = {"desiredStatus": status} if status else {}
            paginate = self.ecs.get_paginator("list_tasks").paginate
            arns = paginate(cluster="c", serviceName=service, **status_filter).search("taskArns[]")
            return sorted(arn.rsplit("/", 1)[-1] for arn in arns)

        blue = self.assertPaged(self.ecs, "list_tasks", "taskArns[]", "nextToken", {"maxResults": 100},
                                cluster="c", serviceName="web-blue")
        self.assertEqual(len(blue), 3)
        prefix = f"arn:aws:ecs:{REGION}:{self.account}:task/c/"
        self.assertTrue(all(arn.startswith(prefix) for arn in blue), blue)
        green = ids("web-green")
        self.assertEqual(len(green), 1)
        self.assertNotIn(green[0], ids("web-blue"))
        self.assertEqual(ids("web-blue", "RUNNING"), ids("web-blue"))
        self.assertEqual(ids("web-blue", "STOPPED"), [])
        self.assertEqual(len(self.ecs.list_tasks(cluster="c")["taskArns"]), 2)  # a page of all 4

        # Scaled in: the stopped tasks are listed as STOPPED, also once they are gone.
        before = ids("web-blue")
        self.ecs.update_service(cluster="c", service="web-blue", desiredCount=1)
        running = ids("web-blue")
        self.assertEqual(len(running), 1)
        stopped = ids("web-blue", "STOPPED")
        self.assertEqual(sorted(running + stopped), before)
        time.sleep(ENI_LINGER + 0.5)
        self.assertEqual(self.describe("web-blue")["runningCount"], 1)
        self.assertEqual(ids("web-blue", "STOPPED"), stopped)
        self.assertError("ClusterNotFoundException", self.ecs.list_tasks, cluster="nope")

    def test_r16_log_events_of_all_streams_come_interleaved_by_time(self) -> None:
        self.logs.create_log_group(logGroupName="/app/web")
        for stream in ("web/web/a", "web/web/b"):
            self.logs.create_log_stream(logGroupName="/app/web", logStreamName=stream)
        base = int(time.time() * 1000)
        self.logs.put_log_events(logGroupName="/app/web", logStreamName="web/web/a", logEvents=[
            {"timestamp": base, "message": "a1"}, {"timestamp": base + 2, "message": "a2"},
        ])
        self.logs.put_log_events(logGroupName="/app/web", logStreamName="web/web/b", logEvents=[
            {"timestamp": base + 1, "message": "b1"}, {"timestamp": base + 3, "message": "b2"},
        ])
        messages = self.assertPaged(self.logs, "filter_log_events", "events[].message", "nextToken",
                                    {"limit": 100}, logGroupName="/app/web", startTime=base)
        self.assertEqual(messages, ["a1", "b1", "a2", "b2"])


    # ---- R17
    def offer_traffic(self, rate: float, target_groups: dict) -> None:
        body = json.dumps({"account": self.account, "region": REGION, "requests_per_second": rate,
                           "target_groups": target_groups}).encode()
        request = urllib.request.Request(f"{self.aws.url}/moto-api/double/alb-traffic", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=30).read()

    def alb_metrics(self, lb_arn: str, group_arn: str, period: int = 600,
                    dimensions: list | None = None) -> dict[str, list[float]]:
        """RequestCount, HTTPCode_Target_5XX_Count (Sum) and TargetResponseTime (p99) of one
        target group over the last few minutes, by query id."""
        if dimensions is None:
            dimensions = [{"Name": "LoadBalancer", "Value": lb_arn.split(":loadbalancer/")[1]},
                          {"Name": "TargetGroup", "Value": group_arn.rsplit(":", 1)[1]}]
        end = (int(time.time()) // 60 + 1) * 60
        queries = [
            {"Id": query_id, "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": metric, "Dimensions": dimensions},
                "Period": period, "Stat": stat}}
            for query_id, metric, stat in (("requests", "RequestCount", "Sum"),
                                           ("errors", "HTTPCode_Target_5XX_Count", "Sum"),
                                           ("p99", "TargetResponseTime", "p99"))
        ]
        answer = self.cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=end - period, EndTime=end)
        return {result["Id"]: result["Values"] for result in answer["MetricDataResults"]}

    def test_r17_alb_metrics_follow_the_listener_weights(self) -> None:
        vpc, subnets, group = self.network()
        lb_arn, groups, listener = self.balancer(vpc, subnets, group)
        self.offer_traffic(200, {"web-blue": {"response_seconds": 0.05},
                                 "web-green": {"error_share": 0.5, "response_seconds": 0.3}})
        time.sleep(0.5)
        # All of it on blue so far: green served nothing, so it reports nothing at all.
        self.assertEqual(self.alb_metrics(lb_arn, groups["green"]), {"requests": [], "errors": [], "p99": []})
        self.elb.modify_listener(ListenerArn=listener,
                                 DefaultActions=[self.weighted(groups["blue"], 50, groups["green"], 50)])
        time.sleep(0.5)
        blue = self.alb_metrics(lb_arn, groups["blue"])
        green = self.alb_metrics(lb_arn, groups["green"])
        self.assertEqual(len(green["requests"]), 1, green)
        self.assertGreater(green["requests"][0], 0)
        self.assertGreater(blue["requests"][0], green["requests"][0])  # blue had it all at first
        self.assertAlmostEqual(green["errors"][0] / green["requests"][0], 0.5)
        self.assertEqual(green["p99"], [0.3])
        # No 5xx: no 5xx count at all, as an ALB reports only non-zero values.
        self.assertEqual(blue["errors"], [])
        self.assertEqual(blue["p99"], [0.05])

        # Stopped: the counts stay what they were.
        self.offer_traffic(0, {"web-blue": {}, "web-green": {}})
        stopped = self.alb_metrics(lb_arn, groups["green"])["requests"]
        time.sleep(0.3)
        self.assertEqual(self.alb_metrics(lb_arn, groups["green"])["requests"], stopped)

        # Only the per-target-group dimension set has data; periods must be whole minutes.
        only_lb = [{"Name": "LoadBalancer", "Value": lb_arn.split(":loadbalancer/")[1]}]
        self.assertEqual(self.alb_metrics(lb_arn, groups["green"], dimensions=only_lb)["requests"], [])
        self.assertError("InvalidParameterValue", self.alb_metrics, lb_arn, groups["green"], period=90)

    def test_r17_nobody_but_aws_publishes_into_aws_namespaces(self) -> None:
        datum = [{"MetricName": "RequestCount", "Value": 100.0}]
        self.assertError("InvalidParameterValue", self.cloudwatch.put_metric_data,
                         Namespace="AWS/ApplicationELB", MetricData=datum, message="AWS/ApplicationELB")
        self.cloudwatch.put_metric_data(Namespace="Custom/Web", MetricData=datum)


class Concurrency(DoubleTest):
    def test_parallel_first_calls_of_an_account(self) -> None:
        """dashctl sends a kind's changes in parallel: the first calls of a new account create
        moto's backends while patched methods run; nothing deadlocks or fails."""
        from concurrent.futures import ThreadPoolExecutor

        vpc = self.client("ec2").create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]

        ec2, elb, ecs = self.client("ec2", 5), self.client("elbv2", 5), self.client("ecs", 5)
        iam, logs, ssm = self.client("iam", 5), self.client("logs", 5), self.client("ssm", 5)

        def work(index: int) -> None:
            ec2.create_security_group(GroupName=f"g{index}", Description="d", VpcId=vpc)
            ecs.create_cluster(clusterName=f"c{index}")
            ecs.describe_clusters(clusters=[f"c{index}"])
            elb.describe_load_balancers()
            iam.create_role(RoleName=f"r{index}", AssumeRolePolicyDocument=ECS_TASKS_TRUST)
            logs.create_log_group(logGroupName=f"/g/{index}")
            ssm.put_parameter(Name=f"/p/{index}", Value="v", Type="String")
            ec2.describe_network_interfaces()

        with ThreadPoolExecutor(max_workers=6) as pool:
            for future in [pool.submit(work, index) for index in range(6)]:
                future.result(timeout=60)
        roles = self.iam.get_paginator("list_roles").paginate().search("Roles[].RoleName")
        self.assertEqual(len(list(roles)), 6)


class Configured(DoubleTest):
    """A second double: a low Describe* rate and rules switched off with DOUBLE_OFF_RULES."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.double = Double(
            {
                "DOUBLE_DESCRIBE_RATE": "5",
                "DOUBLE_OFF_RULES": "R9,r12,R14",
                "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
            }
        )

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.double is not None:
            cls.double.stop()

    def test_aws_managed_policies_still_load(self) -> None:
        """MOTO_IAM_LOAD_MANAGED_POLICIES=true works as with plain moto (dashctl's tests set it)."""
        self.iam.create_role(RoleName="exec", AssumeRolePolicyDocument=ECS_TASKS_TRUST)
        self.iam.attach_role_policy(RoleName="exec", PolicyArn=EXECUTION_POLICY)
        attached = self.iam.list_attached_role_policies(RoleName="exec")["AttachedPolicies"]
        self.assertEqual([p["PolicyArn"] for p in attached], [EXECUTION_POLICY])

    def test_r10_describe_calls_are_throttled(self) -> None:
        self.elb.describe_load_balancers()  # warm up: the first call of an account is slow
        self.ecs.describe_clusters()
        self.assertThrottled(self.elb.describe_load_balancers, 5, "Throttling")
        self.assertThrottled(self.ecs.describe_clusters, 5, "ThrottlingException")

    def test_reset_clears_the_double(self) -> None:
        """/moto-api/reset resets the double's state with moto's (lingering ENIs, deleting NATs)."""
        vpc = self.ec2.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            self.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.3.{i}.0/24", AvailabilityZone=f"us-east-1{z}")
            ["Subnet"]["SubnetId"]
            for i, z in ((1, "a"), (2, "b"))
        ]
        lb = self.elb.create_load_balancer(Name="lb", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
        self.elb.delete_load_balancer(LoadBalancerArn=lb)
        allocation = self.ec2.allocate_address(Domain="vpc")["AllocationId"]
        nat = self.ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=allocation)["NatGateway"]["NatGatewayId"]
        self.ec2.delete_nat_gateway(NatGatewayId=nat)
        assert self.double is not None
        self.double.reset()
        self.assertEqual(self.ec2.describe_nat_gateways()["NatGateways"], [])
        self.assertEqual(self.ec2.describe_network_interfaces()["NetworkInterfaces"], [])
        self.ec2.create_vpc(CidrBlock="10.3.0.0/16")

    def test_rules_can_be_switched_off(self) -> None:
        vpc = self.ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
        group = self.ec2.create_security_group(GroupName="web", Description="d", VpcId=vpc)["GroupId"]
        self.ec2.create_tags(Resources=[group], Tags=[{"Key": "k", "Value": "v"}])  # R9 off
        subnets = [
            self.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.2.{i}.0/24", AvailabilityZone=f"us-east-1{z}")
            ["Subnet"]["SubnetId"]
            for i, z in ((1, "a"), (2, "b"))
        ]
        _, groups, listener = self.balancer(vpc, subnets, group)
        self.elb.modify_listener(ListenerArn=listener,  # R12 off: moto accepts it
                                 DefaultActions=[self.weighted(groups["blue"], 1000, groups["green"], 0)])
        # Other rules stay on.
        self.assertError("DependencyViolation", self.ec2.delete_security_group, GroupId=group)

    def test_r14_can_be_switched_off(self) -> None:
        """Without R14, RDS is moto's: one AZ is enough, no password is needed, an instance is
        available at once and gone at once, without a final snapshot."""
        vpc = self.ec2.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
        subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock="10.5.1.0/24", AvailabilityZone=f"{REGION}a")
        group = self.ec2.create_security_group(GroupName="db", Description="d", VpcId=vpc)["GroupId"]
        self.rds.create_db_subnet_group(DBSubnetGroupName="one", DBSubnetGroupDescription="d",
                                        SubnetIds=[subnet["Subnet"]["SubnetId"]])
        created = self.rds.create_db_instance(
            DBInstanceIdentifier="app", Engine="postgres", DBInstanceClass="db.t4g.micro", MasterUsername="app",
            DBSubnetGroupName="one", VpcSecurityGroupIds=[group], DeletionProtection=False,
        )["DBInstance"]
        self.assertEqual(created["DBInstanceStatus"], "available")
        self.assertIn("Endpoint", created)
        self.rds.modify_db_instance(DBInstanceIdentifier="app", BackupRetentionPeriod=3, ApplyImmediately=True)
        self.rds.modify_db_instance(DBInstanceIdentifier="app", BackupRetentionPeriod=4, ApplyImmediately=True)
        self.rds.delete_db_instance(DBInstanceIdentifier="app")
        self.assertTrue(self.gone("DBInstanceNotFound", self.db, name="app"))
        self.rds.delete_db_subnet_group(DBSubnetGroupName="one")
        self.ec2.delete_security_group(GroupId=group)


class Lifetime(unittest.TestCase):
    def test_stops_when_its_stdin_closes(self) -> None:
        """dashctl's tests share one double among many tests and never stop it: it ends when the
        test process does, because that closes the double's stdin."""
        double = Double({"DOUBLE_STOP_WHEN_STDIN_CLOSES": "1"}, stdin=subprocess.PIPE)
        try:
            time.sleep(0.5)
            self.assertIsNone(double.process.poll(), "the double stopped while its stdin was open")
            assert double.process.stdin is not None
            double.process.stdin.close()
            self.assertEqual(double.process.wait(timeout=10), 0)
        finally:
            double.stop()


if __name__ == "__main__":
    unittest.main()
