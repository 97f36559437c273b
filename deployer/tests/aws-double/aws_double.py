"""A stricter AWS double: moto 5.2.5, patched in-process to behave as AWS does where it
matters to dashctl, then started exactly as ``python -m moto.server`` would be.

Run it with the same arguments as moto's server::

    python aws_double.py -H 127.0.0.1 -p 5000

Everything moto's server does still works (``MOTO_IAM_LOAD_MANAGED_POLICIES=true``, the
``/moto-api/`` endpoints, ``/moto-api/reset`` which also resets the double's own state).
All patches wrap moto's own backend or response methods, raise moto's own exception classes
(or a ``ServiceException`` with AWS's error code, HTTP 400), keep their state per account and
region, and hold one process-wide lock, moto's own backend lock (moto's server is threaded).

Timings are shortened to seconds and set by environment variables (defaults in brackets):

    DOUBLE_TASK_START_SECONDS        [0.5]  a new ECS task is PENDING this long, then RUNNING
    DOUBLE_TARGET_INITIAL_SECONDS    [1]    a registered target is `initial` this long
    DOUBLE_DRAIN_CAP_SECONDS         [2]    draining lasts min(deregistration delay, this)
    DOUBLE_SERVICE_DRAIN_SECONDS     [3]    a deleted ECS service stays DRAINING at least this long
    DOUBLE_ENI_LINGER_SECONDS        [3]    network interfaces outlive their owner this long
    DOUBLE_NAT_DELETE_SECONDS        [2]    a NAT gateway stays `deleting` this long
    DOUBLE_ROLE_PROPAGATION_SECONDS  [2]    a new IAM role is not usable by ECS this long
    DOUBLE_CONSISTENCY_SECONDS       [1]    window after CreateSecurityGroup/CreateSubnet (R9)
    DOUBLE_DB_CREATE_SECONDS         [3]    a new RDS instance is `creating` this long (R14)
    DOUBLE_DB_MODIFY_SECONDS         [1]    a modified RDS instance is `modifying` this long
    DOUBLE_DB_DELETE_SECONDS         [3]    a deleted RDS instance is `deleting` this long
    DOUBLE_ALARM_RATE                [3]    PutMetricAlarm calls per second per account/region
    DOUBLE_DESCRIBE_RATE             [40]   ELBv2 / ECS Describe* calls per second (each service)
    DOUBLE_PAGE_SIZE                 [2]    items per page of the paginated calls (R11)
    DOUBLE_STOPPED_TASK_SECONDS      [3600] ListTasks lists a stopped task this long (R16)
    DOUBLE_UNHEALTHY_MARKER          [unhealthy]  image substring that fails health checks (R2)
    DOUBLE_OFF_RULES                 []     e.g. "R9,R12": switch rules off (the double's own
                                            tests only; dashctl tests run with every rule on)
    DOUBLE_STOP_WHEN_STDIN_CLOSES    []     set: exit once stdin reaches end of file (a test
                                            process holds the pipe's other end: however it
                                            ends, the double ends with it, also one shared by
                                            many tests that nobody stops)

Rules (each names the AWS documentation it stands for), and what each still cannot model:

R1  Attached target groups. ECS CreateService / UpdateService with ``loadBalancers`` whose
    ``targetGroupArn`` no listener forwards to (default actions or rules, TargetGroupArn or any
    ForwardConfig.TargetGroups entry, weight 0 included) -> InvalidParameterException "The
    target group with targetGroupArn {arn} does not have an associated load balancer."
    Docs: ECS API Reference, CreateService (loadBalancers) and the ECS Developer Guide,
    "Troubleshooting service load balancers in Amazon ECS". Also keeps each target group's
    ``LoadBalancerArns`` in step with the listeners (moto never removes entries).
    Not modelled: classic load balancers (``loadBalancerName``), NLB specifics.

R2  Tasks as targets. Every ACTIVE ECS service (REPLICA, ECS deployment controller) runs
    simulated tasks: desiredCount tasks are PENDING for DOUBLE_TASK_START_SECONDS, then RUNNING
    and registered as ``ip`` targets (the task ENI's private IP, port = containerPort of the
    service's loadBalancers) in each of its target groups. DescribeTargetHealth then reports
    ``initial``/Elb.RegistrationInProgress for DOUBLE_TARGET_INITIAL_SECONDS (counted from the
    later of registration and the moment a listener started forwarding to the group), then
    ``healthy``, or ``unhealthy``/Target.ResponseCodeMismatch when a container image of the
    task definition contains DOUBLE_UNHEALTHY_MARKER; ``unused``/Target.NotInUse while no
    listener forwards to the group (R1's definition). Stopped tasks' targets are
    ``draining``/Target.DeregistrationInProgress for min(the group's
    deregistration_delay.timeout_seconds, DOUBLE_DRAIN_CAP_SECONDS), then vanish. Scaling down
    stops pending tasks first, then the newest. A new task definition (or
    forceNewDeployment, or a changed network/load balancer configuration) starts a new
    PRIMARY deployment; with minimumHealthyPercent >= 100 (AWS's default) the old tasks keep
    running until the new ones are all running and healthy, then drain; below 100 they drain
    at once. DescribeServices ``runningCount``/``pendingCount`` count RUNNING/PENDING tasks of
    all deployments (draining tasks are neither); ``deployments`` lists PRIMARY and ACTIVE
    deployments with their own counts, ``rolloutState`` COMPLETED once the primary is steady
    (all running and healthy, no older deployment left). UpdateService stores the task
    definition's full ARN (moto stores whatever string was sent); ``deploymentConfiguration``
    is stored and returned (moto drops it on CreateService). Targets registered by hand
    (RegisterTargets) keep moto's behaviour (always healthy).
    Docs: ELBv2 API Reference, DescribeTargetHealth and TargetHealth (states and reason codes);
    ELB User Guide, "Target groups for your Application Load Balancers" (registration,
    deregistration delay, health checks); ECS API Reference, Service and Deployment
    (runningCount, pendingCount, rolloutState); ECS Developer Guide, "Deploy Amazon ECS services
    by replacing tasks" (minimumHealthyPercent / maximumPercent).
    Not modelled: ECS replacing unhealthy tasks, the deployment circuit breaker (rolloutState
    never becomes FAILED), health check grace periods, DescribeTasks for these tasks (ListTasks:
    R16), maximumPercent, AZ balancing, slow start.

R3  Draining services. DeleteService without force while desiredCount > 0 ->
    InvalidParameterException "The service cannot be stopped while it is scaled above 0."
    (moto already does this; kept). After DeleteService the service is DRAINING (desiredCount
    0, its tasks stop and drain) until DOUBLE_SERVICE_DRAIN_SECONDS have passed and its targets
    have drained, then INACTIVE; DescribeServices shows both. ListServices lists ACTIVE services
    only (moto lists INACTIVE ones too). CreateService with the name of a DRAINING service ->
    InvalidParameterException "Unable to Start a service that is still Draining."; with the
    name of an ACTIVE service -> InvalidParameterException "Creation of service was not
    idempotent." (moto silently replaces it); after INACTIVE the name can be reused.
    UpdateService on a non-ACTIVE service -> ServiceNotActiveException "Service was not
    ACTIVE."; DeleteService on a non-ACTIVE service returns it unchanged.
    Docs: ECS API Reference, DeleteService ("the service is no longer visible in the console or
    in the ListServices API operation ... If you attempt to create a new service with the same
    name as an existing service in either ACTIVE or DRAINING status, you receive an error"),
    UpdateService (ServiceNotActiveException).
    Not modelled: clientToken idempotency (an identical CreateService is refused too), purging
    INACTIVE services.

R4  DeleteCluster while the cluster has ACTIVE or DRAINING services ->
    ClusterContainsServicesException "The Cluster cannot be deleted while Services are
    active."; while tasks (simulated ones, including those of deleted services that are still
    draining or stopping, or moto RunTask tasks not STOPPED) exist ->
    ClusterContainsTasksException "The Cluster cannot be deleted while Tasks are active."
    A task stops once its targets drained and its ENI is gone (DOUBLE_ENI_LINGER_SECONDS).
    Docs: ECS API Reference, DeleteCluster (errors).
    Not modelled: container instances (ClusterContainsContainerInstancesException), capacity
    providers.

R5  Lingering network interfaces. Load balancers get one real moto ENI per subnet
    (description ``ELB app/NAME/ID``, the load balancer's security groups); each simulated ECS
    task gets one in its service's awsvpc subnets (description
    ``arn:aws:ecs:REGION:ACCOUNT:attachment/UUID``, the service's security groups). They show
    in DescribeNetworkInterfaces. A deleted load balancer's ENIs linger
    DOUBLE_ENI_LINGER_SECONDS; a task's ENI is deleted DOUBLE_ENI_LINGER_SECONDS after its
    targets drained (so a deleted service's ENIs outlive it). While they exist:
    DeleteSecurityGroup of a group they use -> DependencyViolation "resource sg-... has a
    dependent object" (also when another group's rule references it; moto checks neither);
    DeleteSubnet of their subnet -> DependencyViolation "The subnet 'subnet-...' has
    dependencies and cannot be deleted."; DeleteVpc -> DependencyViolation "The vpc 'vpc-...'
    has dependencies and cannot be deleted." (also while non-default security groups or an
    attached internet gateway remain; moto only checks subnets and route tables).
    Docs: EC2 API Reference, DeleteSecurityGroup, DeleteSubnet, DeleteVpc; ELB User Guide,
    "Delete an Application Load Balancer"; ECS Developer Guide, "Amazon ECS task networking
    options for Fargate" (one ENI per task).
    Not modelled: ENIs of EC2 instances or moto's RunTask tasks (moto never deletes those, so
    they are not counted), SetSubnets on a load balancer.

R6  NAT gateways delete asynchronously: DeleteNatGateway -> ``deleting`` for
    DOUBLE_NAT_DELETE_SECONDS, then ``deleted`` (moto: deleted at once); only then is its
    Elastic IP disassociated and its ENI removed. ReleaseAddress of an associated address ->
    InvalidIPAddress.InUse "Address ... is in use." (moto silently disassociates);
    DisassociateAddress of a NAT gateway's address while the NAT gateway is not deleted ->
    InvalidIPAddress.InUse; DeleteSubnet while a NAT gateway in it is pending, available or
    deleting -> DependencyViolation (moto: no check); DetachInternetGateway while the VPC has
    mapped public addresses (e.g. a NAT gateway's) -> DependencyViolation "Network vpc-... has
    some mapped public address(es). Please unmap those public address(es) before detaching the
    gateway."; DeleteNatGateway of an unknown id -> NatGatewayNotFound (moto: HTTP 500).
    Docs: EC2 API Reference, DeleteNatGateway, NatGateway (State), ReleaseAddress ("You must
    disassociate the Elastic IP address before you can release it. Otherwise, Amazon EC2
    returns an error (InvalidIPAddress.InUse)"), DetachInternetGateway.
    Not modelled: NAT gateways starting in ``pending``.

R7  IAM propagation: for DOUBLE_ROLE_PROPAGATION_SECONDS after CreateRole, ECS
    RegisterTaskDefinition whose executionRoleArn or taskRoleArn is that role -> ClientException
    "Role is not valid" (also for a role of this account that does not exist); CreateService
    whose ``role`` is that new -> InvalidParameterException "Unable to assume role and validate
    the specified targetGroupArn. Please verify that the ECS service role being passed has the
    proper permissions."
    Docs: IAM User Guide, "Troubleshoot IAM" -> "Changes that I make are not always
    immediately visible"; ECS API Reference, RegisterTaskDefinition (ClientException).
    Not modelled: trust policies (a role ecs-tasks cannot assume is accepted), iam:PassRole,
    propagation of policy changes.

R8  Service-linked roles: the account starts without AWSServiceRoleForECS and
    AWSServiceRoleForApplicationAutoScaling_ECSService. ECS CreateService without
    AWSServiceRoleForECS (path /aws-service-role/ecs.amazonaws.com/) ->
    InvalidParameterException "Unable to assume the service linked role. Please verify that the
    ECS service linked role exists."; RegisterScalableTarget (ServiceNamespace ecs) without
    AWSServiceRoleForApplicationAutoScaling_ECSService -> ValidationException "Unable to assume
    IAM role: arn:aws:iam::ACCOUNT:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService".
    CreateServiceLinkedRole creates these with AWS's names (moto names them
    "AWSServiceRoleForecs" and "AWSServiceRoleForApplicationAutoScaling_Ecs"); creating one
    that exists -> InvalidInput "Service role name ... has been taken in this account, please
    try a different suffix." A scalable target registered without RoleARN reports the
    service-linked role's ARN.
    Docs: ECS Developer Guide, "Using service-linked roles for Amazon ECS"; Application Auto
    Scaling User Guide, "Service-linked roles for Application Auto Scaling"; IAM API Reference,
    CreateServiceLinkedRole (InvalidInput).
    Not modelled: AWS creating these roles implicitly, the roles' managed policies.

R9  Eventual consistency: the first call that references a security group or subnet id
    within DOUBLE_CONSISTENCY_SECONDS of the CreateSecurityGroup/CreateSubnet that made it fails
    once; a second call succeeds. Errors as each API reports a missing resource:
    EC2 AuthorizeSecurityGroupIngress/Egress (GroupId and referenced groups), CreateTags,
    CreateNetworkInterface -> InvalidGroup.NotFound "The security group 'sg-...' does not
    exist"; CreateTags, AssociateRouteTable, CreateNatGateway, ModifySubnetAttribute,
    CreateNetworkInterface -> InvalidSubnetID.NotFound "The subnet ID 'subnet-...' does not
    exist"; ELBv2 CreateLoadBalancer -> InvalidSecurityGroup "The security group 'sg-...' does
    not exist (Service: AmazonEC2; Status Code: 400; Error Code: InvalidGroup.NotFound; ...)"
    (also for security groups that really do not exist, which moto accepts) / SubnetNotFound
    "... Error Code: InvalidSubnetID.NotFound ..."; ECS CreateService/UpdateService
    networkConfiguration -> InvalidParameterException "Error retrieving security group
    information for [sg-...]: The security group 'sg-...' does not exist (ErrorCode:
    InvalidGroup.NotFound)" (or the subnet equivalent). So only EC2 itself answers with a
    *.NotFound code; ELBv2 and ECS carry it in the message, as they do in AWS.
    Docs: EC2 Developer Guide, "Eventual consistency in the Amazon EC2 API"; ELBv2 API
    Reference, CreateLoadBalancer (errors InvalidSecurityGroup, SubnetNotFound); ECS API
    Reference, CreateService (InvalidParameterException).
    Not modelled: any other eventually consistent read.

R10 Throttling: CloudWatch PutMetricAlarm beyond DOUBLE_ALARM_RATE calls per second per
    account/region -> HTTP 400 Throttling "Rate exceeded"; ELBv2 Describe* beyond
    DOUBLE_DESCRIBE_RATE per second -> Throttling "Rate exceeded"; ECS Describe* ->
    ThrottlingException "Rate exceeded". Only accepted calls count (a sliding one-second
    window), so a client that backs off gets through.
    Docs: CloudWatch API Reference, Common Errors (Throttling) and "CloudWatch service quotas";
    ELB User Guide, "Quotas for your Application Load Balancers" / API throttling; ECS
    Developer Guide, "Request throttling for the Amazon ECS API".
    Not modelled: token-bucket bursts, other APIs' rates.

R11 Pagination: these calls return at most DOUBLE_PAGE_SIZE items per page with the service's
    own token, whatever the caller's page size (AWS: a page may hold fewer items than the
    maximum, together with a token; callers must follow the token):
      moto already paginates correctly, the double clamps the page size:
        IAM ListRoles, ListAttachedRolePolicies (moto may return a last, empty page),
        CloudWatch Logs DescribeLogGroups and FilterLogEvents (``limit``; AWS also stops a page
        at 1 MB), SSM GetParametersByPath, ELBv2
        DescribeLoadBalancers, Application Auto Scaling DescribeScalingPolicies (whose
        ResourceId filter moto matches as a substring; the double keeps exact matches), RDS
        DescribeDBInstances (Marker; AWS's minimum MaxRecords of 20 is not enforced);
      moto does not paginate (or, DescribeScalableTargets, loops forever), the double pages:
        CloudWatch DescribeAlarms (NextToken), IAM ListRolePolicies (Marker/IsTruncated),
        ECS ListServices and ListTasks (nextToken), ELBv2 DescribeTargetGroups (NextMarker), Application Auto
        Scaling DescribeScalableTargets (NextToken), EC2 DescribeSubnets,
        DescribeSecurityGroups, DescribeRouteTables, DescribeNatGateways (NextToken; EC2 pages
        only when the caller sends MaxResults or NextToken: without MaxResults, EC2 returns
        everything), RDS DescribeDBSubnetGroups (Marker); DescribeAddresses does not paginate
        in AWS and is left alone.
    Docs: IAM API Reference, ListRoles ("IAM might return fewer than the MaxItems number of
    results even when there are more results available"); SSM API Reference,
    GetParametersByPath; EC2 API Reference, "Pagination"; ECS API Reference, ListServices;
    ELBv2 API Reference, DescribeTargetGroups; CloudWatch API Reference, DescribeAlarms;
    CloudWatch Logs API Reference, DescribeLogGroups; Application Auto Scaling API Reference,
    DescribeScalableTargets; RDS API Reference, DescribeDBInstances, DescribeDBSubnetGroups.
    Not modelled: token expiry, tokens that survive changes to the underlying list.

R12 Weights: a ForwardConfig target group weight outside 0-999 -> ValidationError; the same
    target group twice in one ForwardConfig -> ValidationError; TargetGroupArn together with a
    ForwardConfig that is not exactly that one group -> ValidationError (CreateListener,
    ModifyListener, CreateRule, ModifyRule). Weight 0 is accepted, stored and returned (moto
    already does so). ModifyListener forwarding to an unknown target group -> TargetGroupNotFound
    (moto accepts it).
    Docs: ELBv2 API Reference, TargetGroupTuple (Weight: "The weight ... 0-999"),
    ForwardActionConfig, Action (TargetGroupArn).
    Not modelled: the limit of 5 target groups per action, stickiness durations.

R13 HTTPS listeners: the SslPolicy sent is recorded; an HTTPS/TLS listener created or
    modified without one reports ELBSecurityPolicy-2016-08, as AWS does for API-created
    listeners; HTTP listeners report none (moto reports ELBSecurityPolicy-2016-08 for HTTP
    listeners too), and a listener modified to HTTP loses its policy and certificates.
    Docs: ELB User Guide, "Security policies for your Application Load Balancer"; ELBv2 API
    Reference, CreateListener (SslPolicy).
    Not modelled: policy/protocol compatibility, certificate checks beyond moto's.

R14 RDS instances. A created instance (CreateDBInstance, also restores) is ``creating`` for
    DOUBLE_DB_CREATE_SECONDS, then ``available`` (moto: available at once); while creating,
    CreateDBInstance and DescribeDBInstances return no Endpoint (moto always does).
    ModifyDBInstance leaves it ``modifying`` for DOUBLE_DB_MODIFY_SECONDS; ModifyDBInstance of an
    instance that is creating, modifying or deleting -> InvalidDBInstanceState "Database
    instance is not in available state." CreateDBInstance (not of a cluster member) with both
    MasterUserPassword and ManageMasterUserPassword=true -> InvalidParameterCombination "Can't
    manage the master user password with AWS Secrets Manager if MasterUserPassword is
    specified."; with neither -> InvalidParameterValue "The parameter MasterUserPassword must be
    provided and must not be blank." DeleteDBInstance, checked in this order: of an instance
    being deleted -> InvalidDBInstanceState "Instance ID is already being deleted."; without
    FinalDBSnapshotIdentifier and without SkipFinalSnapshot=true (not of a cluster member) ->
    InvalidParameterCombination "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot
    is specified." (moto deletes without a snapshot); with both -> InvalidParameterCombination "FinalDBSnapshotIdentifier
    can't be specified when SkipFinalSnapshot is enabled."; with DeletionProtection ->
    InvalidParameterCombination "Cannot delete protected DB Instance, please disable deletion
    protection and try again." (moto's own check and text); with a final snapshot while
    creating or modifying -> InvalidDBInstanceState "Instance ID is currently creating - a final
    snapshot cannot be taken." (SkipFinalSnapshot=true deletes such an instance, as AWS does).
    Otherwise the final snapshot is taken (moto does) and the instance is ``deleting`` for
    DOUBLE_DB_DELETE_SECONDS: still listed by DescribeDBInstances, not modifiable, its identifier
    not reusable (moto's DBInstanceAlreadyExists); then it is gone (DBInstanceNotFound) and the
    Secrets Manager secret of ManageMasterUserPassword is deleted with it (moto: both at once).
    CreateDBSubnetGroup / ModifyDBSubnetGroup whose subnets cover fewer than two Availability
    Zones -> DBSubnetGroupDoesNotCoverEnoughAZs "The DB subnet group doesn't meet Availability
    Zone (AZ) coverage requirement. Current AZ coverage: us-east-1a. Add subnets to cover at
    least 2 AZs." (moto: no check). DeleteDBSubnetGroup while an instance in any state
    (deleting included) uses the group -> InvalidDBSubnetGroupStateFault "Cannot delete the
    subnet group 'NAME' because at least one database instance: ID is still using it." (moto
    deletes it). EC2 DeleteSecurityGroup of a group an instance in any state lists in its
    VpcSecurityGroups -> DependencyViolation "resource sg-... has a dependent object" (the
    instance's network interface is in the group; moto: no check).
    Docs: RDS API Reference, CreateDBInstance (ManageMasterUserPassword: "Can't manage the
    master user password with Amazon Web Services Secrets Manager if MasterUserPassword is
    specified"), ModifyDBInstance, DeleteDBInstance (SkipFinalSnapshot, FinalDBSnapshotIdentifier:
    "Specifying this parameter and also specifying to skip final DB snapshot creation in
    SkipFinalShapshot results in an error", InvalidDBInstanceState), DBInstance (Endpoint),
    CreateDBSubnetGroup (DBSubnetGroupDoesNotCoverEnoughAZs: "Subnets in the DB subnet group
    should cover at least two Availability Zones unless there is only one Availability Zone"),
    DeleteDBSubnetGroup (InvalidDBSubnetGroupStateFault); RDS User Guide, "Viewing Amazon RDS DB
    instance status", "Deleting a DB instance" ("You can't create a final DB snapshot of your DB
    instance if it isn't in the Available state"), "Working with a DB instance in a VPC"; EC2
    API Reference, DeleteSecurityGroup. Messages are AWS's as reported by its clients, except
    the two for password and snapshot parameter combinations (taken from the documented
    constraints; AWS's exact text unverified).
    Not modelled: ``backing-up`` after creation, pending modifications (every ModifyDBInstance
    is applied at once and passes through ``modifying``, ApplyImmediately or not, even a change
    AWS makes without a status change), the instance's network interface in
    DescribeNetworkInterfaces / DeleteSubnet / DeleteVpc, stopped instances, Multi-AZ,
    clusters, read replicas, engine/class/storage validation, the secret's rotation.

R15 Scheduled scaling (Application Auto Scaling). PutScheduledAction for a scalable target that
    is not registered -> ObjectNotFoundException "No scalable target registered for service
    namespace: NS, resource ID: ID, scalable dimension: DIM" (moto stores the action anyway);
    a Schedule that is not ``at(...)``, ``rate(...)`` or ``cron(...)`` -> ValidationException.
    DeregisterScalableTarget deletes the target's scheduled actions and scaling policies (moto
    keeps both). A one-time action (``at(yyyy-mm-ddThh:mm:ss)``, UTC) runs once its time has
    passed (checked on every request): it sets the target's MinCapacity/MaxCapacity to those
    its ScalableTargetAction gives, then brings an ECS service's desiredCount into that range
    (its tasks stop or start as R2 simulates); moto never runs a scheduled action. The action
    stays listed after it ran.
    Docs: Application Auto Scaling API Reference, PutScheduledAction ("You cannot create a
    scheduled action until you have registered the resource as a scalable target"; "If a
    scalable target is deregistered, the scalable target is no longer available to run
    scheduled actions. Any scheduled actions that were specified for the scalable target are
    deleted") and ObjectNotFoundException; User Guide, "How scheduled scaling for Application
    Auto Scaling works" ("If current capacity is greater than the specified maximum capacity,
    Application Auto Scaling scales in ... to the specified maximum capacity"), "Delete a
    scheduled action" (deregister-scalable-target deletes remaining policies and scheduled
    actions). The exact ObjectNotFoundException wording is unverified.
    Not modelled: ``rate``/``cron`` schedules and StartTime/EndTime (stored, never run),
    Timezone other than UTC, the minute or so AWS may take to run an action, scaling
    activities (DescribeScalingActivities).

R16 Task listing: ECS ListTasks lists R2's simulated tasks, as
    ``arn:PARTITION:ecs:REGION:ACCOUNT:task/CLUSTER/ID`` (moto lists only RunTask's tasks, and
    ignores ``serviceName``):
    ``desiredStatus`` RUNNING (the default) lists the tasks not asked to stop, STOPPED those
    asked to stop (scaled in, replaced, their service deleted) for DOUBLE_STOPPED_TASK_SECONDS
    after that, also after the task is gone from its service; ``serviceName`` keeps the tasks
    of that service of the cluster (any status) and leaves out moto's RunTask tasks (which
    belong to no service); paginated as in R11. An unknown cluster -> ClusterNotFoundException
    (moto's). CloudWatch Logs FilterLogEvents interleaves the events of all streams by time
    whatever ``interleaved`` says (moto keeps stream order unless it is true).
    Docs: ECS API Reference, ListTasks ("Recently stopped tasks might appear in the returned
    results"; desiredStatus: "The default status filter is RUNNING"; the AWS CLI reference:
    "stopped tasks appear in the returned results for at least one hour"); CloudWatch Logs API
    Reference, FilterLogEvents (interleaved: "Starting on June 17, 2019, this parameter is
    ignored and the value is assumed to be true. The response from this operation always
    interleaves events from multiple log streams within a log group.").
    Not modelled: the family, startedBy, containerInstance and launchType filters for simulated
    tasks, ServiceNotFoundException for a service name the cluster never had (it lists nothing).

R17 Load balancer metrics. An ALB publishes its own metrics to CloudWatch (namespace
    ``AWS/ApplicationELB``); nobody else can: PutMetricData into any namespace beginning with
    ``AWS/`` -> InvalidParameterValue (moto stores it). moto has no load balancer traffic, so a
    test says what traffic there is through a test-control endpoint (like moto's own
    ``/moto-api/``, not an AWS API)::

        POST /moto-api/double/alb-traffic
        {"account": "123456789012", "region": "us-east-1", "requests_per_second": 40,
         "target_groups": {"NAME": {"error_share": 0.5, "response_seconds": 0.2}, ...}}

    From then on (until the next call naming any of those groups, ``requests_per_second`` 0
    stopping it), that many requests a second arrive at each listener whose default action
    forwards to one of the named groups, and are split by the weights of its ForwardConfig as
    they are at each moment (a ModifyListener moves them); each group answers ``error_share``
    of its requests with a target 5xx, all in ``response_seconds`` (groups not named: no 5xx,
    0.01 s). GetMetricData then answers MetricStat queries on ``AWS/ApplicationELB`` from that
    traffic (other namespaces: moto's), for the dimensions {LoadBalancer=app/NAME/ID,
    TargetGroup=targetgroup/NAME/ID} exactly (other dimension sets: no data): ``RequestCount``
    and ``HTTPCode_Target_5XX_Count`` with Sum or SampleCount, ``TargetResponseTime`` with
    Average, Minimum, Maximum or pNN; one value per Period from StartTime, only for periods with
    requests, and no ``HTTPCode_Target_5XX_Count`` value for a period without 5xx (an ALB
    reports a metric only when it has a non-zero value to report); ScanBy as asked
    (TimestampDescending by default). A Period other than 1, 5, 10, 20, 30 or a multiple of 60
    -> InvalidParameterValue.
    Docs: CloudWatch API Reference, PutMetricData (Namespace: "You cannot specify a namespace
    that begins with 'AWS/'. Namespaces that begin with 'AWS/' are reserved for use by Amazon
    Web Services products."), GetMetricData and MetricStat (Period: "1, 5, 10, 20, 30, 60, or
    any multiple of 60" for high-resolution metrics, "any multiple of 60" otherwise);
    ELB User Guide, "CloudWatch metrics for your Application Load Balancer" (RequestCount,
    HTTPCode_Target_5XX_Count, TargetResponseTime; "Elastic Load Balancing reports metrics only
    when requests are flowing through the load balancer"; dimensions LoadBalancer and
    TargetGroup). The exact error wording is unverified.
    Not modelled: the minute or more before a period's data becomes visible (the double shows
    traffic as it happens), 1-minute storage resolution (a period shorter than 60 s gets the
    requests of that shorter period), other ALB metrics and dimension sets, ELB-generated 5xx,
    targets' health (traffic goes by weight alone), the test route's header rule, metric math.
"""

from __future__ import annotations

import collections
import copy
import datetime
import functools
import inspect
import json
import os
import random
import sys
import threading
import time
import traceback
import uuid
import warnings
from typing import Any

# --------------------------------------------------------------------------------------------
# Configuration


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


TASK_START = _number("DOUBLE_TASK_START_SECONDS", 0.5)
TARGET_INITIAL = _number("DOUBLE_TARGET_INITIAL_SECONDS", 1.0)
DRAIN_CAP = _number("DOUBLE_DRAIN_CAP_SECONDS", 2.0)
SERVICE_DRAIN = _number("DOUBLE_SERVICE_DRAIN_SECONDS", 3.0)
ENI_LINGER = _number("DOUBLE_ENI_LINGER_SECONDS", 3.0)
NAT_DELETE = _number("DOUBLE_NAT_DELETE_SECONDS", 2.0)
ROLE_PROPAGATION = _number("DOUBLE_ROLE_PROPAGATION_SECONDS", 2.0)
CONSISTENCY = _number("DOUBLE_CONSISTENCY_SECONDS", 1.0)
DB_CREATE = _number("DOUBLE_DB_CREATE_SECONDS", 3.0)
DB_MODIFY = _number("DOUBLE_DB_MODIFY_SECONDS", 1.0)
DB_DELETE = _number("DOUBLE_DB_DELETE_SECONDS", 3.0)
ALARM_RATE = _number("DOUBLE_ALARM_RATE", 3)
DESCRIBE_RATE = _number("DOUBLE_DESCRIBE_RATE", 40)
PAGE_SIZE = max(1, int(_number("DOUBLE_PAGE_SIZE", 2)))
STOPPED_TASK_LISTED = _number("DOUBLE_STOPPED_TASK_SECONDS", 3600.0)
UNHEALTHY_MARKER = os.environ.get("DOUBLE_UNHEALTHY_MARKER", "unhealthy") or "unhealthy"
OFF_RULES = {
    rule.strip().upper()
    for rule in os.environ.get("DOUBLE_OFF_RULES", "").split(",")
    if rule.strip()
}
DEFAULT_SSL_POLICY = "ELBSecurityPolicy-2016-08"

ECS_SLR_NAME = "AWSServiceRoleForECS"
ECS_SLR_PATH = "/aws-service-role/ecs.amazonaws.com/"
SCALING_SLR_NAME = "AWSServiceRoleForApplicationAutoScaling_ECSService"
SCALING_SLR_PATH = "/aws-service-role/ecs.application-autoscaling.amazonaws.com/"
# AWS's names for service-linked roles (moto derives wrong ones for these services).
SERVICE_LINKED_ROLE_NAMES = {
    "ecs.amazonaws.com": ECS_SLR_NAME,
    "ecs.application-autoscaling.amazonaws.com": SCALING_SLR_NAME,
    "elasticloadbalancing.amazonaws.com": "AWSServiceRoleForElasticLoadBalancing",
    "autoscaling.amazonaws.com": "AWSServiceRoleForAutoScaling",
}


def on(rule: str) -> bool:
    return rule not in OFF_RULES


def now() -> float:
    return time.monotonic()


# --------------------------------------------------------------------------------------------
# moto

from moto.applicationautoscaling.exceptions import AWSValidationException  # noqa: E402
from moto.applicationautoscaling.models import (  # noqa: E402
    ApplicationAutoscalingBackend,
    applicationautoscaling_backends,
)
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse  # noqa: E402
from moto.cloudwatch.responses import CloudWatchResponse  # noqa: E402
from moto.core.base_backend import backend_lock  # noqa: E402
from moto.core.exceptions import ServiceException  # noqa: E402
from moto.core.responses import ActionResult, BaseResponse  # noqa: E402
from moto.core.utils import utcnow  # noqa: E402
from moto.ec2.exceptions import (  # noqa: E402
    DependencyViolationError,
    InvalidSecurityGroupNotFoundError,
    InvalidSubnetIdError,
)
from moto.ec2.models import EC2Backend, ec2_backends  # noqa: E402
from moto.ec2.responses import EC2Response  # noqa: E402
from moto.ecs.exceptions import EcsClientException, InvalidParameterException  # noqa: E402
from moto.ecs.models import EC2ContainerServiceBackend, ecs_backends  # noqa: E402
from moto.ecs.responses import EC2ContainerServiceResponse  # noqa: E402
from moto.elbv2.exceptions import (  # noqa: E402
    ActionTargetGroupNotFoundError,
    ValidationError,
)
from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, elbv2_backends  # noqa: E402
from moto.elbv2.responses import ELBV2Response  # noqa: E402
from moto.iam.exceptions import EntityAlreadyExists, InvalidInput  # noqa: E402
from moto.iam.models import IAMBackend, iam_backends  # noqa: E402
from moto.iam.responses import IamResponse  # noqa: E402
from moto.logs.responses import LogsResponse  # noqa: E402
from moto.moto_api._internal import urls as moto_api_urls  # noqa: E402
from moto.moto_api._internal.models import MotoAPIBackend  # noqa: E402
from moto.rds.exceptions import (  # noqa: E402
    InvalidParameterCombination,
    InvalidParameterValue,
    RDSClientError,
)
from moto.rds.models import DBInstance, RDSBackend, rds_backends  # noqa: E402
from moto.rds.responses import RDSResponse  # noqa: E402
from moto.secretsmanager.models import SecretsManagerBackend  # noqa: E402
from moto.ssm.responses import SimpleSystemManagerResponse  # noqa: E402
from moto.utilities.utils import get_partition  # noqa: E402


class DoubleError(ServiceException):
    """An AWS error code moto has no class for; serialized as HTTP 400 like moto's own."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


# moto warns when an error code is missing from the botocore model (Throttling is).
warnings.filterwarnings("ignore", message=r"Exception\(DoubleError\) with code")

# The double's lock is moto's own backend lock (an RLock): a thread creating a backend holds it
# and may call patched methods, a patched method may create a backend; one lock cannot deadlock.
LOCK = backend_lock
WORLDS: dict[tuple[str, str], World] = {}


def world(account: str, region: str) -> World:
    key = (account, region)
    found = WORLDS.get(key)
    if found is None:
        found = WORLDS[key] = World(account, region)
    return found


def iam_state(account: str) -> World:
    """IAM is global: role creation times live in one world per account."""
    return world(account, "*iam*")


def _log_exception() -> None:
    print("aws_double: internal error (request continues):", file=sys.stderr)
    traceback.print_exc(file=sys.stderr)


# --------------------------------------------------------------------------------------------
# The simulated world of one account and region


class SimTask:
    """One ECS task: PENDING -> RUNNING -> (DEACTIVATING while its targets drain) ->
    STOPPING (its ENI is being deleted) -> STOPPED."""

    def __init__(self, service: SimService, deployment: SimDeployment, at: float):
        self.id = uuid.uuid4().hex
        self.deployment = deployment
        self.created = at
        self.running_at = at + TASK_START
        self.stop_at: float | None = None
        self.drained_at: float | None = None
        self.gone_at: float | None = None
        self.bindings = list(service.bindings)
        self.unhealthy = deployment.unhealthy
        self.cluster = service.cluster
        self.service_name = service.name
        service.world.listed_tasks.append(self)
        self.eni_id: str | None = None
        self.ip: str | None = None
        if service.subnets:
            subnet = service.subnets[service.next_subnet % len(service.subnets)]
            service.next_subnet += 1
            world_ = service.world
            description = (
                f"arn:{get_partition(world_.region)}:ecs:{world_.region}:{world_.account}"
                f":attachment/{uuid.uuid4()}"
            )
            self.eni_id, self.ip = world_.make_eni(subnet, service.security_groups, description)
        if not self.ip:
            self.ip = "10.{}.{}.{}".format(
                random.randint(0, 255), random.randint(0, 255), random.randint(1, 254)
            )

    def state(self, at: float) -> str:
        if self.stop_at is not None and at >= self.stop_at:
            if at < self.drained_at:  # type: ignore[operator]
                return "DEACTIVATING"
            if at < self.gone_at:  # type: ignore[operator]
                return "STOPPING"
            return "STOPPED"
        return "RUNNING" if at >= self.running_at else "PENDING"

    def stop(self, at: float, world_: World) -> None:
        if self.stop_at is not None:
            return
        self.stop_at = at
        drain = 0.0
        if self.bindings and at >= self.running_at:
            drain = max(world_.drain_seconds(arn) for arn, _ in self.bindings)
        self.drained_at = at + drain
        self.gone_at = self.drained_at + (ENI_LINGER if self.eni_id else 0.0)
        if self.eni_id:
            world_.managed_enis[self.eni_id] = self.gone_at


class SimDeployment:
    def __init__(self, task_definition: str | None, unhealthy: bool):
        self.id = f"ecs-svc/{random.randint(10**18, 10**19 - 1)}"
        self.task_definition = task_definition
        self.unhealthy = unhealthy
        self.status = "PRIMARY"
        self.desired = 0
        self.created = utcnow()
        self.updated = self.created
        self.tasks: list[SimTask] = []


class SimService:
    def __init__(self, world_: World, service: Any):
        self.world = world_
        self.obj = service
        self.cluster = service.cluster_name
        self.name = service.name
        self.deleted_at: float | None = None
        self.next_subnet = 0
        controller = (service.deployment_controller or {}).get("type", "ECS")
        self.simulated = on("R2") and controller == "ECS" and service.scheduling_strategy == "REPLICA"
        self.deployments: list[SimDeployment] = []
        self.subnets: list[str] = []
        self.security_groups: list[str] = []
        self.bindings: list[tuple[str, int]] = []
        self.set_network(service.network_configuration, service.load_balancers)

    def set_network(self, network: Any, load_balancers: Any) -> None:
        vpc = (network or {}).get("awsvpcConfiguration") or {}
        self.subnets = list(vpc.get("subnets") or [])
        self.security_groups = list(vpc.get("securityGroups") or [])
        self.bindings = [
            (lb["targetGroupArn"], int(lb.get("containerPort") or 0))
            for lb in load_balancers or []
            if isinstance(lb, dict) and lb.get("targetGroupArn")
        ]

    @property
    def primary(self) -> SimDeployment | None:
        return self.deployments[0] if self.deployments else None

    def tasks(self) -> list[SimTask]:
        return [task for deployment in self.deployments for task in deployment.tasks]

    def min_healthy_percent(self) -> float:
        configuration = getattr(self.obj, "deployment_configuration", None) or {}
        try:
            return float(configuration.get("minimumHealthyPercent", 100))
        except (TypeError, ValueError):
            return 100.0

    def deploy(self, at: float, task_definition: str | None) -> None:
        """A new PRIMARY deployment at the service's desired count."""
        unhealthy = self.world.is_unhealthy_release(task_definition)
        deployment = SimDeployment(task_definition, unhealthy)
        for old in self.deployments:
            old.status = "ACTIVE"
            old.desired = 0
            old.updated = utcnow()
        self.deployments.insert(0, deployment)
        self.scale(at, int(self.obj.desired_count or 0))
        if self.min_healthy_percent() < 100:
            for old in self.deployments[1:]:
                for task in old.tasks:
                    task.stop(at, self.world)

    def scale(self, at: float, desired: int) -> None:
        deployment = self.primary
        if deployment is None:
            return
        deployment.desired = desired
        deployment.updated = utcnow()
        alive = [task for task in deployment.tasks if task.stop_at is None]
        while len(alive) < desired:
            task = SimTask(self, deployment, at)
            deployment.tasks.append(task)
            alive.append(task)
        if len(alive) > desired:
            # Pending tasks first, then the newest.
            alive.sort(key=lambda task: (task.running_at <= at, -task.created))
            for task in alive[: len(alive) - desired]:
                task.stop(at, self.world)

    def delete(self, at: float) -> None:
        self.deleted_at = at
        for deployment in self.deployments:
            deployment.desired = 0
            for task in deployment.tasks:
                task.stop(at, self.world)

    def steady(self, at: float) -> bool:
        deployment = self.primary
        if deployment is None:
            return True
        alive = [task for task in deployment.tasks if task.stop_at is None]
        if len(alive) != deployment.desired:
            return False
        for task in alive:
            if task.state(at) != "RUNNING":
                return False
            for arn, _ in task.bindings:
                health = self.world.target_state(task, arn, at)
                if health is None or health[0] != "healthy":
                    return False
        return True

    def tick(self, at: float) -> None:
        if self.deleted_at is None and len(self.visible_deployments(at)) > 1 and self.steady(at):
            for old in self.deployments[1:]:
                for task in old.tasks:
                    task.stop(at, self.world)
        if self.deleted_at is not None and self.obj.status == "DRAINING":
            done = self.deleted_at + SERVICE_DRAIN
            for task in self.tasks():
                if task.drained_at is not None:
                    done = max(done, task.drained_at)
            if at >= done:
                self.obj.status = "INACTIVE"
        for deployment in self.deployments:
            deployment.tasks = [task for task in deployment.tasks if task.state(at) != "STOPPED"]
        if self.deployments:
            self.deployments = self.deployments[:1] + [d for d in self.deployments[1:] if d.tasks]
        self.refresh(at)

    def visible_deployments(self, at: float) -> list[SimDeployment]:
        """The PRIMARY one and older ones that still have tasks not yet drained (tasks whose
        ENI is being deleted no longer hold a deployment up)."""
        serving = ("PENDING", "RUNNING", "DEACTIVATING")
        return self.deployments[:1] + [
            d for d in self.deployments[1:] if any(task.state(at) in serving for task in d.tasks)
        ]

    def finished(self, at: float) -> bool:
        return self.obj.status == "INACTIVE" and not self.tasks()

    def refresh(self, at: float) -> None:
        """Makes moto's Service say what the simulation knows."""
        if not self.simulated:
            return
        tasks = self.tasks()
        self.obj.running_count = sum(1 for task in tasks if task.state(at) == "RUNNING")
        self.obj.pending_count = sum(1 for task in tasks if task.state(at) == "PENDING")
        visible = self.visible_deployments(at)
        steady = self.steady(at) and len(visible) <= 1
        rows = []
        for deployment in visible:
            running = sum(1 for task in deployment.tasks if task.state(at) == "RUNNING")
            pending = sum(1 for task in deployment.tasks if task.state(at) == "PENDING")
            if deployment is self.primary:
                rollout = "COMPLETED" if steady else "IN_PROGRESS"
            else:
                rollout = "COMPLETED"
            reason = (
                f"ECS deployment {deployment.id} completed."
                if rollout == "COMPLETED"
                else f"ECS deployment {deployment.id} in progress."
            )
            launch_type = self.obj.launch_type
            rows.append(
                {
                    "createdAt": deployment.created,
                    "desiredCount": deployment.desired,
                    "failedTasks": 0,
                    "id": deployment.id,
                    "launchType": launch_type,
                    "pendingCount": pending,
                    "rolloutState": rollout,
                    "rolloutStateReason": reason,
                    "runningCount": running,
                    "platformVersion": self.obj.platform_version,
                    "networkConfiguration": self.obj.network_configuration or None,
                    "platformFamily": "EC2" if launch_type == "EC2" else "FARGATE",
                    "status": deployment.status,
                    "taskDefinition": deployment.task_definition,
                    "updatedAt": deployment.updated,
                }
            )
        self.obj.deployments = rows


class World:
    def __init__(self, account: str, region: str):
        self.account = account
        self.region = region
        self.services: list[SimService] = []
        self.in_use_since: dict[str, float] = {}
        self.managed_enis: dict[str, float | None] = {}  # ENI id -> when it goes (None: owned)
        self.lb_enis: dict[str, list[str]] = {}
        self.nat_deadlines: dict[str, float] = {}
        self.fresh: dict[str, list[Any]] = {}  # id -> [created, failed once]
        self.rates: dict[str, collections.deque[float]] = {}
        self.role_created: dict[str, float] = {}
        self.uses_rds = False  # so EC2 calls never create an RDS backend of their own
        self.db_transitions: dict[int, tuple[Any, float]] = {}  # id(DBInstance) -> (it, when it ends)
        self.scheduled_done: set[int] = set()  # id() of one-time scheduled actions that ran (R15)
        self.listed_tasks: list[SimTask] = []  # what ListTasks can still see (R16)
        self.offered: list[OfferedTraffic] = []  # traffic a test offers the listeners (R17)
        self.served: dict[tuple[str, str], dict[int, TrafficSecond]] = {}  # (lb, group) -> second -> served
        self.traffic_clock: float | None = None  # wall-clock time traffic was served up to (R17)

    # Backends of this account and region.
    def ec2(self) -> Any:
        return ec2_backends[self.account][self.region]

    def elbv2(self) -> Any:
        return elbv2_backends[self.account][self.region]

    def ecs(self) -> Any:
        return ecs_backends[self.account][self.region]

    def rds(self) -> Any:
        return rds_backends[self.account][self.region]

    # ---- load balancing
    def used_target_groups(self) -> dict[str, set[str]]:
        """Target group ARN -> the load balancers whose listeners forward to it."""
        used: dict[str, set[str]] = {}
        for lb in list(self.elbv2().load_balancers.values()):
            for listener in list(lb.listeners.values()):
                for rule in list(listener.rules.values()):
                    for action in rule.actions or []:
                        data = getattr(action, "data", None) or {}
                        if str(data.get("Type", "")).lower() != "forward":
                            continue
                        arns = []
                        if data.get("TargetGroupArn"):
                            arns.append(data["TargetGroupArn"])
                        for group in (data.get("ForwardConfig") or {}).get("TargetGroups") or []:
                            if group.get("TargetGroupArn"):
                                arns.append(group["TargetGroupArn"])
                        for arn in arns:
                            used.setdefault(arn, set()).add(lb.arn)
        return used

    def listeners_changed(self, at: float) -> None:
        used = self.used_target_groups()
        for arn in used:
            self.in_use_since.setdefault(arn, at)
        for arn in list(self.in_use_since):
            if arn not in used:
                del self.in_use_since[arn]
        if on("R1"):
            for arn, group in self.elbv2().target_groups.items():
                group.load_balancer_arns = sorted(used.get(arn, set()))

    def drain_seconds(self, target_group_arn: str) -> float:
        group = self.elbv2().target_groups.get(target_group_arn)
        delay = 300.0
        if group is not None:
            try:
                delay = float(group.attributes.get("deregistration_delay.timeout_seconds", 300))
            except (TypeError, ValueError):
                pass
        return max(0.0, min(delay, DRAIN_CAP))

    def target_state(self, task: SimTask, arn: str, at: float) -> tuple[str, str | None, str | None] | None:
        """(state, reason, description) of a task's target, or None when not registered."""
        if at < task.running_at:
            return None
        if task.stop_at is not None and at >= task.stop_at:
            if task.stop_at < task.running_at or at >= task.drained_at:  # type: ignore[operator]
                return None
            return ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
        if arn not in self.used_target_groups():
            return ("unused", "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer")
        since = max(task.running_at, self.in_use_since.get(arn, 0.0))
        if at < since + TARGET_INITIAL:
            return ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
        if task.unhealthy:
            return ("unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [502]")
        return ("healthy", None, None)

    def targets_of(self, arn: str, at: float) -> list[tuple[str, int, tuple[str, str | None, str | None]]]:
        found = []
        for service in self.services:
            for task in service.tasks():
                for group, port in task.bindings:
                    if group != arn:
                        continue
                    state = self.target_state(task, arn, at)
                    if state is not None:
                        found.append((task.ip, port, state))
        return found

    # ---- ECS
    def is_unhealthy_release(self, task_definition: str | None) -> bool:
        if not task_definition:
            return False
        try:
            definition = self.ecs().describe_task_definition(task_definition)
        except Exception:
            return False
        return any(
            UNHEALTHY_MARKER in str(container.get("image") or "")
            for container in definition.container_definitions or []
        )

    # ---- scheduled scaling (R15)
    def _run_scheduled_actions(self) -> None:
        if self.region not in applicationautoscaling_backends.get(self.account, {}):
            return
        backend = applicationautoscaling_backends[self.account][self.region]
        wall_clock = time.time()
        for action in list(backend.scheduled_actions):
            when = _one_time_schedule(action.schedule)
            if id(action) in self.scheduled_done or when is None or wall_clock < when:
                continue
            self.scheduled_done.add(id(action))
            target = backend.targets.get(action.scalable_dimension, {}).get(action.resource_id)
            if target is None:
                continue
            wanted = action.scalable_target_action or {}
            if wanted.get("MinCapacity") is not None:
                target.min_capacity = int(wanted["MinCapacity"])
            if wanted.get("MaxCapacity") is not None:
                target.max_capacity = int(wanted["MaxCapacity"])
            if action.service_namespace == "ecs":
                self._clamp_ecs_service(action.resource_id, target.min_capacity, target.max_capacity)

    def _clamp_ecs_service(self, resource_id: str, low: int | None, high: int | None) -> None:
        """An ECS service's desiredCount brought into [low, high], as a scaling activity does."""
        parts = resource_id.split("/")
        if len(parts) != 3:
            return
        _, cluster, name = parts
        try:
            service = self.ecs()._get_service(cluster, name)
        except Exception:
            return
        desired = int(service.desired_count or 0)
        clamped = max(low if low is not None else desired, min(high if high is not None else desired, desired))
        if clamped == desired:
            return
        service.desired_count = clamped
        sim = self.sim_of(service)
        if sim is not None and sim.simulated:
            at = now()
            sim.scale(at, clamped)
            sim.refresh(at)

    def sim_of(self, service: Any) -> SimService | None:
        return getattr(service, "_double_sim", None)

    # ---- network interfaces
    def make_eni(self, subnet_id: str, group_ids: list[str], description: str) -> tuple[str | None, str | None]:
        if not on("R5"):
            return None, None
        ec2 = self.ec2()
        try:
            subnet = ec2.get_subnet(subnet_id)
        except Exception:
            return None, None
        groups = [group for group in group_ids or [] if ec2.get_security_group_from_id(group)]
        eni = ec2.create_network_interface(
            subnet=subnet,
            private_ip_address=None,
            group_ids=groups or None,
            description=description,
        )
        eni.status = "in-use"
        eni.requester_managed = True
        self.managed_enis[eni.id] = None
        return eni.id, eni.private_ip_address

    def live_enis(self) -> list[Any]:
        enis = self.ec2().enis
        return [enis[eni_id] for eni_id in list(self.managed_enis) if eni_id in enis]

    # ---- eventual consistency (R9)
    def consume_fresh(self, ids: list[str], at: float) -> str | None:
        if not on("R9"):
            return None
        for resource in ids:
            record = self.fresh.get(resource)
            if record and not record[1] and at - record[0] < CONSISTENCY:
                record[1] = True
                return resource
        return None

    # ---- throttling (R10)
    def throttle(self, key: str, rate: float, code: str) -> None:
        if not on("R10") or rate <= 0:
            return
        at = now()
        window = self.rates.setdefault(key, collections.deque())
        while window and at - window[0] >= 1.0:
            window.popleft()
        if len(window) >= rate:
            raise DoubleError(code, "Rate exceeded")
        window.append(at)

    # ---- time passes
    def tick(self, at: float) -> None:
        try:
            self._tick(at)
        except Exception:
            _log_exception()

    def _tick(self, at: float) -> None:
        if on("R15"):
            self._run_scheduled_actions()
        if self.offered:
            _alb_serve(self, time.time())
        if self.services:
            for service in list(self.services):
                service.tick(at)
            self.services = [s for s in self.services if not s.finished(at)]
            self._cluster_counts(at)
        if self.managed_enis:
            enis = self.ec2().enis
            for eni_id, gone_at in list(self.managed_enis.items()):
                if gone_at is not None and at >= gone_at:
                    enis.pop(eni_id, None)
                    del self.managed_enis[eni_id]
                elif eni_id not in enis:
                    del self.managed_enis[eni_id]
        if self.nat_deadlines:
            for nat_id, deadline in list(self.nat_deadlines.items()):
                if at >= deadline:
                    self._finish_nat_deletion(nat_id)
                    del self.nat_deadlines[nat_id]
        if self.listed_tasks:
            self.listed_tasks = [
                task for task in self.listed_tasks
                if task.stop_at is None or at < task.stop_at + STOPPED_TASK_LISTED
            ]
        if self.db_transitions:
            for key, (database, ends) in list(self.db_transitions.items()):
                if at >= ends:
                    del self.db_transitions[key]
                    self._finish_db_transition(database)

    def _cluster_counts(self, at: float) -> None:
        ecs = self.ecs()
        for cluster in list(ecs.clusters.values()):
            running = pending = 0
            for service in self.services:
                if service.cluster != cluster.name or not service.simulated:
                    continue
                for task in service.tasks():
                    state = task.state(at)
                    running += state == "RUNNING"
                    pending += state == "PENDING"
            for task in (ecs.tasks.get(cluster.name) or {}).values():
                running += task.last_status == "RUNNING"
            cluster.running_tasks_count = running
            cluster.pending_tasks_count = pending
            cluster.active_services_count = sum(
                1
                for service in ecs.services.values()
                if service.cluster_name == cluster.name and service.status == "ACTIVE"
            )

    # ---- RDS instances (R14)
    def db_transition(self, database: Any, status: str, seconds: float) -> None:
        """The instance is `status` until `seconds` have passed (a later transition replaces an
        earlier one: a `creating` instance deleted is `deleting` from then on)."""
        database.status = status
        self.db_transitions[id(database)] = (database, now() + seconds)

    def _finish_db_transition(self, database: Any) -> None:
        if database.status != "deleting":
            database.status = "available"
            return
        databases = self.rds().databases
        for key, found in list(databases.items()):
            if found is database:  # by identity: moto keys instances as the caller spelled them
                del databases[key]
        # The secret RDS manages goes with the instance (moto deletes it at DeleteDBInstance).
        if getattr(database, "manage_master_user_password", False) and hasattr(database, "master_user_secret"):
            database.master_user_secret.delete_secret()

    def databases_using(self, predicate: Any) -> list[Any]:
        """RDS instances in any state (deleting ones too) for which predicate(instance) holds."""
        if not self.uses_rds:
            return []
        return [database for database in list(self.rds().databases.values()) if predicate(database)]

    def _finish_nat_deletion(self, nat_id: str) -> None:
        ec2 = self.ec2()
        nat = ec2.nat_gateways.get(nat_id)
        if nat is None:
            return
        nat.state = "deleted"
        eni = getattr(nat, "_eni", None)
        for address in list(ec2.addresses):
            if eni is not None and address.eni is eni:
                eni.public_ip = None
                address.eni = None
                address.instance = None
                address.association_id = None
        if eni is not None:
            ec2.enis.pop(eni.id, None)


# --------------------------------------------------------------------------------------------
# Patching helpers


def wrap(cls: type, name: str):  # type: ignore[no-untyped-def]
    """Replaces cls.name with a wrapper calling fn(original, self, ...) under the lock. Fails at
    start-up (not at request time) when moto no longer has the method."""
    original = getattr(cls, name)
    if not callable(original):
        raise TypeError(f"{cls.__name__}.{name} is not a method")

    def decorate(fn):  # type: ignore[no-untyped-def]
        @functools.wraps(original)
        def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            with LOCK:
                return fn(original, self, *args, **kwargs)

        wrapper.__double_original__ = original  # type: ignore[attr-defined]
        setattr(cls, name, wrapper)
        return fn

    return decorate


def arguments(original: Any, self: Any, args: tuple, kwargs: dict) -> dict[str, Any]:
    bound = inspect.signature(original).bind(self, *args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def backend_world(backend: Any) -> World:
    w = world(backend.account_id, backend.region_name)
    w.tick(now())
    return w


def response_world(response: Any) -> World:
    w = world(response.current_account, response.region)
    w.tick(now())
    return w


def hide_params(response: Any, hidden: dict[str, Any]) -> None:
    """Makes response._get_param return `hidden[name]` for those names (per request object)."""
    original = type(response)._get_param

    def _get_param(param_name: str, if_none: Any = None) -> Any:
        if param_name in hidden:
            value = hidden[param_name]
            return if_none if value is None else value
        return original(response, param_name, if_none)

    response._get_param = _get_param


def iam_backend(account: str, region: str) -> Any:
    return iam_backends[account][get_partition(region)]


def find_role(iam: Any, name: str, path: str | None = None) -> Any:
    for role in list(iam.roles.values()):
        if role.name == name and (path is None or role.path == path):
            return role
    return None


# --------------------------------------------------------------------------------------------
# Reset and time: every request moves the simulation of its account and region forward.


@wrap(MotoAPIBackend, "reset")
def _reset(original, self):  # type: ignore[no-untyped-def]
    WORLDS.clear()
    return original(self)


_original_call_action = BaseResponse.call_action


def _call_action(self):  # type: ignore[no-untyped-def]
    try:
        key = (self.current_account, self.region)
    except AttributeError:
        key = None
    if key is not None:
        with LOCK:
            found = WORLDS.get(key)
            if found is not None:
                found.tick(now())
    return _original_call_action(self)


BaseResponse.call_action = _call_action  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------
# ECS


def _ecs_network_fresh(w: World, network: Any, at: float) -> None:
    """R9 for ECS: a just-created subnet or security group is not visible yet."""
    vpc = (network or {}).get("awsvpcConfiguration") or {}
    subnets = list(vpc.get("subnets") or [])
    groups = list(vpc.get("securityGroups") or [])
    missing = w.consume_fresh(subnets + groups, at)
    if missing is None:
        return
    if missing.startswith("sg-"):
        raise InvalidParameterException(
            f"Error retrieving security group information for [{missing}]: "
            f"The security group '{missing}' does not exist (ErrorCode: InvalidGroup.NotFound)"
        )
    raise InvalidParameterException(
        f"Error retrieving subnet information for [{missing}]: "
        f"The subnet ID '{missing}' does not exist (ErrorCode: InvalidSubnetID.NotFound)"
    )


def _ecs_check_target_groups(w: World, load_balancers: Any) -> None:
    """R1: a service's target group must have a listener forwarding to it."""
    used = w.used_target_groups()
    for lb in load_balancers or []:
        arn = lb.get("targetGroupArn") if isinstance(lb, dict) else None
        if arn and arn not in used:
            raise InvalidParameterException(
                f"The target group with targetGroupArn {arn} does not have an associated load balancer."
            )


def _role_not_usable(account: str, region: str, reference: str | None, at: float) -> bool:
    """R7: a role that does not exist (in this account) or was created too recently."""
    if not reference:
        return False
    iam = iam_backend(account, region)
    if reference.startswith("arn:"):
        parts = reference.split(":", 5)
        if len(parts) < 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
            return True
        if parts[4] != account:
            return False  # another account's role: nothing to check against
        role = next((r for r in list(iam.roles.values()) if r.arn == reference), None)
    else:
        role = find_role(iam, reference)
    if role is None:
        return True
    created = iam_state(account).role_created.get(role.arn)
    return created is not None and at - created < ROLE_PROPAGATION


@wrap(EC2ContainerServiceBackend, "create_service")
def _ecs_create_service(original, self, *args, **kwargs):  # type: ignore[no-untyped-def]
    a = arguments(original, self, args, kwargs)
    w = backend_world(self)
    at = now()
    cluster = self._get_cluster(a["cluster_str"])
    name = a["service_name"]
    existing = self.services.get(f"{cluster.name}:{name}")
    if on("R3") and existing is not None:
        if existing.status == "ACTIVE":
            raise InvalidParameterException("Creation of service was not idempotent.")
        if existing.status == "DRAINING":
            raise InvalidParameterException("Unable to Start a service that is still Draining.")
    if on("R8") and find_role(iam_backend(self.account_id, self.region_name), ECS_SLR_NAME, ECS_SLR_PATH) is None:
        raise InvalidParameterException(
            "Unable to assume the service linked role. Please verify that the ECS service linked role exists."
        )
    _ecs_network_fresh(w, a.get("network_configuration"), at)
    if on("R1"):
        _ecs_check_target_groups(w, a.get("load_balancers"))
    if on("R7") and a.get("role_arn") and _role_not_usable(self.account_id, self.region_name, a["role_arn"], at):
        raise InvalidParameterException(
            "Unable to assume role and validate the specified targetGroupArn. "
            "Please verify that the ECS service role being passed has the proper permissions."
        )
    service = original(self, *args, **kwargs)
    sim = SimService(w, service)
    service._double_sim = sim
    w.services.append(sim)
    if sim.simulated:
        sim.deploy(at, service.task_definition)
        sim.refresh(at)
    return service


@wrap(EC2ContainerServiceBackend, "update_service")
def _ecs_update_service(original, self, service_properties):  # type: ignore[no-untyped-def]
    props = dict(service_properties)
    w = backend_world(self)
    at = now()
    cluster_str = props.get("cluster") or "default"
    service = self._get_service(cluster_str, str(props.get("service", "")).split("/")[-1])
    if on("R3") and service.status != "ACTIVE":
        raise DoubleError("ServiceNotActiveException", "Service was not ACTIVE.")
    if props.get("network_configuration"):
        _ecs_network_fresh(w, props["network_configuration"], at)
    if on("R1") and props.get("load_balancers"):
        _ecs_check_target_groups(w, props["load_balancers"])
    old_network = copy.deepcopy(service.network_configuration)
    old_load_balancers = copy.deepcopy(service.load_balancers)
    result = original(self, service_properties)
    if props.get("task_definition"):
        # AWS answers with the full ARN; moto keeps whatever string was sent.
        result.task_definition = self.describe_task_definition(props["task_definition"]).arn
    sim = w.sim_of(result)
    if sim is not None and sim.simulated:
        sim.set_network(result.network_configuration, result.load_balancers)
        primary = sim.primary
        changed = (
            primary is None
            or result.task_definition != primary.task_definition
            or bool(props.get("force_new_deployment"))
            or (props.get("network_configuration") is not None and result.network_configuration != old_network)
            or (props.get("load_balancers") is not None and result.load_balancers != old_load_balancers)
        )
        if changed:
            sim.deploy(at, result.task_definition)
        else:
            sim.scale(at, int(result.desired_count or 0))
        sim.refresh(at)
    return result


@wrap(EC2ContainerServiceBackend, "delete_service")
def _ecs_delete_service(original, self, *args, **kwargs):  # type: ignore[no-untyped-def]
    a = arguments(original, self, args, kwargs)
    w = backend_world(self)
    at = now()
    service = self._get_service(a["cluster_name"], a["service_name"])
    if on("R3") and service.status != "ACTIVE":
        return service  # AWS returns a DRAINING/INACTIVE service as it is
    result = original(self, *args, **kwargs)
    result.desired_count = 0
    if on("R3"):
        result.status = "DRAINING"
    sim = w.sim_of(result)
    if sim is not None:
        sim.delete(at)
        if not on("R3"):
            sim.obj.status = "INACTIVE"
        sim.refresh(at)
    return result


@wrap(EC2ContainerServiceBackend, "list_services")
def _ecs_list_services(original, self, *args, **kwargs):  # type: ignore[no-untyped-def]
    backend_world(self)
    arns = original(self, *args, **kwargs)
    if not on("R3"):
        return arns
    active = {service.arn for service in self.services.values() if service.status == "ACTIVE"}
    return [arn for arn in arns if arn in active]


@wrap(EC2ContainerServiceBackend, "describe_services")
def _ecs_describe_services(original, self, *args, **kwargs):  # type: ignore[no-untyped-def]
    backend_world(self)
    return original(self, *args, **kwargs)


@wrap(EC2ContainerServiceBackend, "delete_cluster")
def _ecs_delete_cluster(original, self, cluster_str):  # type: ignore[no-untyped-def]
    w = backend_world(self)
    at = now()
    cluster = self._get_cluster(cluster_str)
    if on("R4"):
        if any(
            service.cluster_name == cluster.name and service.status in ("ACTIVE", "DRAINING")
            for service in self.services.values()
        ):
            raise DoubleError(
                "ClusterContainsServicesException",
                "The Cluster cannot be deleted while Services are active.",
            )
        simulated = any(
            task.state(at) != "STOPPED"
            for service in w.services
            if service.cluster == cluster.name
            for task in service.tasks()
        )
        run_tasks = any(
            task.last_status != "STOPPED" for task in (self.tasks.get(cluster.name) or {}).values()
        )
        if simulated or run_tasks:
            raise DoubleError(
                "ClusterContainsTasksException",
                "The Cluster cannot be deleted while Tasks are active.",
            )
    return original(self, cluster_str)


@wrap(EC2ContainerServiceBackend, "register_task_definition")
def _ecs_register_task_definition(original, self, *args, **kwargs):  # type: ignore[no-untyped-def]
    a = arguments(original, self, args, kwargs)
    backend_world(self)
    at = now()
    if on("R7"):
        for key in ("execution_role_arn", "task_role_arn"):
            if _role_not_usable(self.account_id, self.region_name, a.get(key), at):
                raise EcsClientException("Role is not valid")
    return original(self, *args, **kwargs)


@wrap(EC2ContainerServiceResponse, "create_service")
def _ecs_create_service_response(original, self):  # type: ignore[no-untyped-def]
    configuration = self._get_param("deploymentConfiguration")
    result = original(self)
    if on("R2") and isinstance(result, ActionResult):
        service = result.result.get("service")  # type: ignore[union-attr]
        if service is not None:
            stored = {
                "maximumPercent": 200,
                "minimumHealthyPercent": 100,
                "deploymentCircuitBreaker": {"enable": False, "rollback": False},
            }
            stored.update(configuration or {})
            service.deployment_configuration = stored
    return result


def _throttled_describes(cls: type, code: str, key: str) -> None:
    for name, _ in inspect.getmembers(cls, inspect.isfunction):
        if not name.startswith("describe_"):
            continue

        def install(name: str) -> None:
            @wrap(cls, name)
            def _describe(original, self, *args, **kwargs):  # type: ignore[no-untyped-def]
                world(self.current_account, self.region).throttle(key, DESCRIBE_RATE, code)
                return original(self, *args, **kwargs)

        install(name)


# --------------------------------------------------------------------------------------------
# ELBv2


def _check_forward_actions(backend: Any, actions: Any, check_groups_exist: bool) -> None:
    """R12: ForwardConfig weights, duplicates, TargetGroupArn vs ForwardConfig."""
    for index, action in enumerate(actions or [], start=1):
        if not isinstance(action, dict) or str(action.get("Type", "")).lower() != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        seen: set[str] = set()
        for position, group in enumerate(groups, start=1):
            weight = group.get("Weight")
            if weight is not None:
                value = int(weight)
                if value < 0 or value > 999:
                    bound = "less than or equal to 999" if value > 999 else "greater than or equal to 0"
                    raise ValidationError(
                        f"1 validation error detected: Value '{value}' at "
                        f"'actions.{index}.member.forwardConfig.targetGroups.{position}.member.weight' "
                        f"failed to satisfy constraint: Member must have value {bound}"
                    )
            arn = group.get("TargetGroupArn")
            if arn in seen:
                raise ValidationError(
                    f"Target group '{arn}' cannot be specified more than once in the same forward action"
                )
            seen.add(arn)
        top = action.get("TargetGroupArn")
        if top and groups and (len(groups) != 1 or groups[0].get("TargetGroupArn") != top):
            raise ValidationError(
                "If you specify both TargetGroupArn and ForwardConfig, ForwardConfig can contain only "
                "one target group and it must be the same as TargetGroupArn"
            )
        if check_groups_exist:
            for arn in [top] + [group.get("TargetGroupArn") for group in groups]:
                if arn and arn not in backend.target_groups:
                    raise ActionTargetGroupNotFoundError(arn)


def _fix_ssl_policy(listener: Any) -> None:
    """R13: HTTPS/TLS listeners report a policy (the API default), others none."""
    protocol = (listener.protocol or "").upper()
    if protocol in ("HTTPS", "TLS"):
        if not listener.ssl_policy:
            listener.ssl_policy = DEFAULT_SSL_POLICY
    else:
        listener.ssl_policy = None
        listener.certificate = None
        listener.certificates = []


@wrap(ELBv2Backend, "create_load_balancer")
def _elb_create_load_balancer(original, self, *args, **kwargs):  # type: ignore[no-untyped-def]
    w = backend_world(self)
    lb = original(self, *args, **kwargs)
    if on("R5"):
        description = "ELB " + lb.arn.split(":loadbalancer/", 1)[-1]
        enis = []
        for subnet in lb.subnets:
            eni_id, _ = w.make_eni(subnet.id, list(lb.security_groups or []), description)
            if eni_id:
                enis.append(eni_id)
        w.lb_enis[lb.arn] = enis
    return lb


@wrap(ELBv2Backend, "delete_load_balancer")
def _elb_delete_load_balancer(original, self, arn):  # type: ignore[no-untyped-def]
    w = backend_world(self)
    at = now()
    result = original(self, arn)
    for eni_id in w.lb_enis.pop(arn, []):
        if eni_id in w.managed_enis:
            w.managed_enis[eni_id] = at + ENI_LINGER
    w.listeners_changed(at)
    return result


@wrap(ELBv2Backend, "set_security_groups")
def _elb_set_security_groups(original, self, arn, sec_groups):  # type: ignore[no-untyped-def]
    w = backend_world(self)
    result = original(self, arn, sec_groups)
    ec2 = w.ec2()
    groups = [ec2.get_security_group_from_id(g) for g in sec_groups or []]
    for eni_id in w.lb_enis.get(arn, []):
        eni = ec2.enis.get(eni_id)
        if eni is not None:
            eni._group_set = [g for g in groups if g is not None]
    return result


def _listener_change(check_groups_exist: bool, fix_ssl: bool):  # type: ignore[no-untyped-def]
    def body(original, self, *args, **kwargs):  # type: ignore[no-untyped-def]
        w = backend_world(self)
        a = arguments(original, self, args, kwargs)
        if on("R12"):
            _check_forward_actions(self, a.get("actions"), check_groups_exist)
        result = original(self, *args, **kwargs)
        if fix_ssl and on("R13"):
            _fix_ssl_policy(result)
        w.listeners_changed(now())
        return result

    return body


wrap(ELBv2Backend, "create_listener")(_listener_change(False, True))
wrap(ELBv2Backend, "modify_listener")(_listener_change(True, True))
wrap(ELBv2Backend, "create_rule")(_listener_change(False, False))
wrap(ELBv2Backend, "modify_rule")(_listener_change(False, False))


def _after_listener_change(original, self, *args, **kwargs):  # type: ignore[no-untyped-def]
    w = backend_world(self)
    result = original(self, *args, **kwargs)
    w.listeners_changed(now())
    return result


wrap(ELBv2Backend, "delete_listener")(_after_listener_change)
wrap(ELBv2Backend, "delete_rule")(_after_listener_change)


@wrap(ELBv2Backend, "describe_target_health")
def _elb_describe_target_health(original, self, target_group_arn, targets):  # type: ignore[no-untyped-def]
    w = backend_world(self)
    group = self.target_groups.get(target_group_arn)
    if group is None or not on("R2"):
        return original(self, target_group_arn, targets)
    mine = w.targets_of(target_group_arn, now())
    if not mine:
        return original(self, target_group_arn, targets)

    def health(ip: str, port: int, state: tuple) -> Any:
        check_port = group.health_check_port
        if not check_port or check_port == "traffic-port":
            check_port = str(port)
        status, reason, description = state
        return FakeHealthStatus(ip, port, check_port, status, reason, description)

    by_id = {ip: (ip, port, state) for ip, port, state in mine}
    if targets:
        found = []
        for target in targets:
            entry = by_id.get(target.get("Id"))
            if entry is not None:
                found.append(health(*entry))
            else:
                found.extend(original(self, target_group_arn, [target]))
        return found
    return list(original(self, target_group_arn, [])) + [health(*entry) for entry in mine]


@wrap(ELBV2Response, "create_load_balancer")
def _elb_create_load_balancer_response(original, self):  # type: ignore[no-untyped-def]
    w = response_world(self)
    at = now()
    if on("R9"):
        groups = list(self._get_param("SecurityGroups", []) or [])
        subnets = list(self._get_param("Subnets", []) or [])
        subnets += [m.get("SubnetId") for m in self._get_param("SubnetMappings", []) or [] if m.get("SubnetId")]
        ec2 = w.ec2()
        for group in groups:
            if ec2.get_security_group_from_id(group) is None:
                raise _elb_missing_group(group)
        missing = w.consume_fresh(subnets + groups, at)
        if missing is not None:
            if missing.startswith("sg-"):
                raise _elb_missing_group(missing)
            raise DoubleError(
                "SubnetNotFound",
                f"The subnet ID '{missing}' does not exist (Service: AmazonEC2; Status Code: 400; "
                f"Error Code: InvalidSubnetID.NotFound; Request ID: {uuid.uuid4()})",
            )
    return original(self)


def _elb_missing_group(group: str) -> DoubleError:
    """ELBv2 wraps the EC2 error it got (as in AWS's own responses)."""
    return DoubleError(
        "InvalidSecurityGroup",
        f"The security group '{group}' does not exist (Service: AmazonEC2; Status Code: 400; "
        f"Error Code: InvalidGroup.NotFound; Request ID: {uuid.uuid4()})",
    )


# --------------------------------------------------------------------------------------------
# EC2


def _sg_in_use(w: World, group_id: str) -> bool:
    for eni in w.live_enis():
        if any(getattr(group, "id", None) == group_id for group in eni._group_set):
            return True
    ec2 = w.ec2()
    for groups in list(ec2.groups.values()):
        for group in list(groups.values()):
            if group.id == group_id:
                continue
            for rule in list(group.ingress_rules) + list(group.egress_rules):
                if (rule.source_group or {}).get("GroupId") == group_id:
                    return True
    return False


def _sg_held_by_database(w: World, group_id: str) -> bool:
    """R14: an RDS instance, whatever its state (deleting too), holds a network interface in each
    of its VPC security groups."""
    return bool(w.databases_using(lambda db: group_id in (getattr(db, "vpc_security_group_ids", None) or [])))


@wrap(EC2Backend, "delete_security_group")
def _ec2_delete_security_group(original, self, name=None, group_id=None):  # type: ignore[no-untyped-def]
    w = backend_world(self)
    if on("R5") or on("R14"):
        group = self.get_security_group_from_id(group_id) if group_id else (
            self.get_security_group_by_name_or_id(name) if name else None
        )
        if group is not None and (
            (on("R5") and _sg_in_use(w, group.id)) or (on("R14") and _sg_held_by_database(w, group.id))
        ):
            raise DependencyViolationError(f"resource {group.id} has a dependent object")
    return original(self, name=name, group_id=group_id)


@wrap(EC2Backend, "delete_subnet")
def _ec2_delete_subnet(original, self, subnet_id):  # type: ignore[no-untyped-def]
    w = backend_world(self)
    blocked = False
    if on("R5"):
        blocked = any(eni.subnet is not None and eni.subnet.id == subnet_id for eni in w.live_enis())
    if on("R6") and not blocked:
        blocked = any(
            nat.subnet_id == subnet_id and nat.state in ("pending", "available", "deleting")
            for nat in list(self.nat_gateways.values())
        )
    if blocked:
        raise DependencyViolationError(f"The subnet '{subnet_id}' has dependencies and cannot be deleted.")
    return original(self, subnet_id)


@wrap(EC2Backend, "delete_vpc")
def _ec2_delete_vpc(original, self, vpc_id):  # type: ignore[no-untyped-def]
    w = backend_world(self)
    if on("R5") and vpc_id in self.vpcs:
        message = f"The vpc '{vpc_id}' has dependencies and cannot be deleted."
        if any(eni.subnet is not None and eni.subnet.vpc_id == vpc_id for eni in w.live_enis()):
            raise DependencyViolationError(message)
        if any(not group.is_default for group in list(self.groups.get(vpc_id, {}).values())):
            raise DependencyViolationError(message)
        if any(
            gateway.vpc is not None and gateway.vpc.id == vpc_id
            for gateway in list(self.internet_gateways.values())
        ):
            raise DependencyViolationError(message)
    return original(self, vpc_id)


@wrap(EC2Backend, "delete_nat_gateway")
def _ec2_delete_nat_gateway(original, self, nat_gateway_id):  # type: ignore[no-untyped-def]
    w = backend_world(self)
    nat = self.nat_gateways.get(nat_gateway_id)
    if nat is None:
        raise DoubleError("NatGatewayNotFound", f"The Nat Gateway {nat_gateway_id} was not found")
    if not on("R6"):
        return original(self, nat_gateway_id)
    if nat.state in ("deleting", "deleted"):
        return nat
    nat.state = "deleting"
    w.nat_deadlines[nat_gateway_id] = now() + NAT_DELETE
    return nat


def _address(backend: Any, address: str | None, allocation_id: str | None, association_id: str | None = None) -> Any:
    if address:
        return backend.address_by_ip([address])[0]
    if allocation_id:
        return backend.address_by_allocation([allocation_id])[0]
    if association_id:
        return backend.address_by_association([association_id])[0]
    return None


def _nat_holding(backend: Any, eip: Any) -> Any:
    for nat in list(backend.nat_gateways.values()):
        if nat.state != "deleted" and eip.eni is not None and getattr(nat, "_eni", None) is eip.eni:
            return nat
    return None


@wrap(EC2Backend, "release_address")
def _ec2_release_address(original, self, address=None, allocation_id=None):  # type: ignore[no-untyped-def]
    backend_world(self)
    if on("R6"):
        eip = _address(self, address, allocation_id)
        if eip is not None and (eip.eni is not None or eip.instance is not None):
            raise DoubleError("InvalidIPAddress.InUse", f"Address {eip.public_ip} is in use.")
    return original(self, address=address, allocation_id=allocation_id)


@wrap(EC2Backend, "disassociate_address")
def _ec2_disassociate_address(original, self, address=None, association_id=None):  # type: ignore[no-untyped-def]
    backend_world(self)
    if on("R6"):
        eip = _address(self, address, None, association_id)
        if eip is not None and _nat_holding(self, eip) is not None:
            raise DoubleError("InvalidIPAddress.InUse", f"Address {eip.public_ip} is in use.")
    return original(self, address=address, association_id=association_id)


@wrap(EC2Backend, "detach_internet_gateway")
def _ec2_detach_internet_gateway(original, self, internet_gateway_id, vpc_id):  # type: ignore[no-untyped-def]
    backend_world(self)
    if on("R6"):
        for eip in list(self.addresses):
            eni = eip.eni
            in_vpc = eni is not None and eni.subnet is not None and eni.subnet.vpc_id == vpc_id
            if not in_vpc and eip.instance is not None:
                in_vpc = getattr(eip.instance, "vpc_id", None) == vpc_id
            if in_vpc:
                raise DependencyViolationError(
                    f"Network {vpc_id} has some mapped public address(es). "
                    "Please unmap those public address(es) before detaching the gateway."
                )
    return original(self, internet_gateway_id, vpc_id)


def _under_lock(original, self, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Readers of what the double mutates (ENIs, NAT gateways, addresses) run under the lock,
    so they never iterate a dict the simulation is changing."""
    backend_world(self)
    return original(self, *args, **kwargs)


for _reader in ("get_all_network_interfaces", "describe_network_interfaces", "describe_nat_gateways",
                "describe_addresses", "describe_subnets", "describe_security_groups"):
    wrap(EC2Backend, _reader)(_under_lock)
for _reader in ("describe_load_balancers", "describe_target_groups", "describe_listeners", "describe_rules"):
    wrap(ELBv2Backend, _reader)(_under_lock)


def _record_fresh(response: Any, resource_id: str | None) -> None:
    if resource_id:
        world(response.current_account, response.region).fresh[resource_id] = [now(), False]


@wrap(EC2Response, "create_security_group")
def _ec2_create_security_group(original, self):  # type: ignore[no-untyped-def]
    result = original(self)
    if isinstance(result, ActionResult):
        _record_fresh(self, (result.result or {}).get("GroupId"))  # type: ignore[union-attr]
    return result


@wrap(EC2Response, "create_subnet")
def _ec2_create_subnet(original, self):  # type: ignore[no-untyped-def]
    result = original(self)
    if isinstance(result, ActionResult):
        subnet = (result.result or {}).get("Subnet")  # type: ignore[union-attr]
        _record_fresh(self, getattr(subnet, "id", None))
    return result


def _ec2_fresh_guard(ids_of):  # type: ignore[no-untyped-def]
    def body(original, self):  # type: ignore[no-untyped-def]
        w = response_world(self)
        ids = [i for i in ids_of(self) if isinstance(i, str)]
        missing = w.consume_fresh(ids, now())
        if missing is not None:
            if missing.startswith("sg-"):
                raise InvalidSecurityGroupNotFoundError(missing)
            raise InvalidSubnetIdError(missing)
        return original(self)

    return body


def _rule_group_ids(response: Any) -> list[str]:
    ids = [response._get_param("GroupId")]
    for permission in response._get_param("IpPermissions", []) or []:
        for pair in permission.get("UserIdGroupPairs") or []:
            ids.append(pair.get("GroupId"))
    return ids


wrap(EC2Response, "authorize_security_group_ingress")(_ec2_fresh_guard(_rule_group_ids))
wrap(EC2Response, "authorize_security_group_egress")(_ec2_fresh_guard(_rule_group_ids))
wrap(EC2Response, "create_tags")(_ec2_fresh_guard(lambda r: list(r._get_param("Resources", []) or [])))
wrap(EC2Response, "associate_route_table")(_ec2_fresh_guard(lambda r: [r._get_param("SubnetId")]))
wrap(EC2Response, "create_nat_gateway")(_ec2_fresh_guard(lambda r: [r._get_param("SubnetId")]))
wrap(EC2Response, "modify_subnet_attribute")(_ec2_fresh_guard(lambda r: [r._get_param("SubnetId")]))
wrap(EC2Response, "create_network_interface")(
    _ec2_fresh_guard(lambda r: [r._get_param("SubnetId")] + list(r._get_param("Groups", []) or []))
)


# --------------------------------------------------------------------------------------------
# RDS (R14)

NOT_AVAILABLE = ("creating", "modifying", "deleting")


def rds_world(backend: Any) -> World:
    w = backend_world(backend)
    w.uses_rds = True
    return w


_db_endpoint = DBInstance.endpoint


def _db_endpoint_once_created(self: Any) -> Any:
    """AWS reports no Endpoint while an instance is being created (its address does not exist
    yet); moto always reports one. A property: moto's serializer reads it as an attribute."""
    if on("R14") and self.status == "creating":
        return None
    return _db_endpoint.fget(self)


DBInstance.endpoint = property(_db_endpoint_once_created)  # type: ignore[method-assign,assignment]


@wrap(RDSResponse, "create_db_instance")
def _rds_create_db_instance_response(original, self):  # type: ignore[no-untyped-def]
    # Here, not in the backend: restores and CloudFormation create instances without a password.
    if on("R14") and not self.params.get("DBClusterIdentifier"):
        password = self.params.get("MasterUserPassword")
        managed = bool(self.params.get("ManageMasterUserPassword"))
        if password and managed:
            raise InvalidParameterCombination(
                "Can't manage the master user password with AWS Secrets Manager if MasterUserPassword is specified."
            )
        if not password and not managed:
            raise InvalidParameterValue("The parameter MasterUserPassword must be provided and must not be blank.")
    return original(self)


@wrap(RDSBackend, "create_db_instance")
def _rds_create_db_instance(original, self, db_kwargs):  # type: ignore[no-untyped-def]
    w = rds_world(self)
    database = original(self, db_kwargs)
    if on("R14"):
        w.db_transition(database, "creating", DB_CREATE)
    return database


@wrap(RDSBackend, "modify_db_instance")
def _rds_modify_db_instance(original, self, db_instance_identifier, db_kwargs):  # type: ignore[no-untyped-def]
    w = rds_world(self)
    if not on("R14"):
        return original(self, db_instance_identifier, db_kwargs)
    database = self.describe_db_instances(db_instance_identifier)[0]  # DBInstanceNotFound as moto
    if database.status in NOT_AVAILABLE:
        raise RDSClientError("InvalidDBInstanceState", "Database instance is not in available state.")
    result = original(self, db_instance_identifier, db_kwargs)
    w.db_transition(result, "modifying", DB_MODIFY)
    return result


def _check_db_deletion(database: Any, final_snapshot: str | None, skip: bool) -> None:
    """R14: DeleteDBInstance's refusals, in a fixed order (moto checks only deletion protection)."""
    name = database.db_instance_identifier
    if database.status == "deleting":
        raise RDSClientError("InvalidDBInstanceState", f"Instance {name} is already being deleted.")
    clustered = bool(getattr(database, "db_cluster_identifier", None))  # the cluster keeps the data
    if not final_snapshot and not skip and not clustered:
        raise InvalidParameterCombination(
            "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified."
        )
    if final_snapshot and skip:
        raise InvalidParameterCombination(
            "FinalDBSnapshotIdentifier can't be specified when SkipFinalSnapshot is enabled."
        )
    if database.deletion_protection:
        raise InvalidParameterCombination(
            "Cannot delete protected DB Instance, please disable deletion protection and try again."
        )
    # Only a final snapshot needs an available instance: AWS deletes a creating one when told
    # to skip the snapshot (CloudFormation rollbacks rely on it).
    if not skip and database.status in NOT_AVAILABLE:
        raise RDSClientError(
            "InvalidDBInstanceState",
            f"Instance {name} is currently {database.status} - a final snapshot cannot be taken.",
        )


@wrap(RDSBackend, "delete_db_instance")
def _rds_delete_db_instance(original, self, *args, **kwargs):  # type: ignore[no-untyped-def]
    w = rds_world(self)
    a = arguments(original, self, args, kwargs)
    identifier = a["db_instance_identifier"]
    database = self.databases.get(identifier)
    if not on("R14") or database is None:
        return original(self, *args, **kwargs)  # moto's DBInstanceNotFound
    _check_db_deletion(database, a.get("final_db_snapshot_identifier"), bool(a.get("skip_final_snapshot")))
    # moto deletes the managed secret and forgets the instance at once; AWS does both when the
    # deletion is over, so the secret is kept here and the instance put back as `deleting`.
    managed = getattr(database, "manage_master_user_password", False)
    database.manage_master_user_password = False
    try:
        result = original(self, *args, **kwargs)
    finally:
        database.manage_master_user_password = managed
    self.databases[identifier] = result
    w.db_transition(result, "deleting", DB_DELETE)
    return result


def _subnet_group_of(database: Any) -> str | None:
    group = getattr(database, "db_subnet_group", None)
    return group.name.lower() if group is not None else None


def _check_az_coverage(subnets: list[Any]) -> None:
    zones = sorted({subnet.availability_zone for subnet in subnets})
    if len(zones) < 2:
        raise RDSClientError(
            "DBSubnetGroupDoesNotCoverEnoughAZs",
            "The DB subnet group doesn't meet Availability Zone (AZ) coverage requirement. "
            f"Current AZ coverage: {', '.join(zones)}. Add subnets to cover at least 2 AZs.",
        )


@wrap(RDSBackend, "create_subnet_group")
def _rds_create_subnet_group(original, self, subnet_name, description, subnets, tags):  # type: ignore[no-untyped-def]
    rds_world(self)
    if on("R14"):
        _check_az_coverage(subnets)
    return original(self, subnet_name, description, subnets, tags)


@wrap(RDSBackend, "modify_db_subnet_group")
def _rds_modify_db_subnet_group(original, self, subnet_name, description, subnets):  # type: ignore[no-untyped-def]
    rds_world(self)
    if on("R14"):
        _check_az_coverage(subnets)  # before moto, which takes the group out of its dict first
    return original(self, subnet_name, description, subnets)


@wrap(RDSBackend, "delete_subnet_group")
def _rds_delete_subnet_group(original, self, subnet_name):  # type: ignore[no-untyped-def]
    w = rds_world(self)
    if on("R14"):
        users = w.databases_using(lambda db: _subnet_group_of(db) == str(subnet_name).lower())
        if users:
            raise RDSClientError(
                "InvalidDBSubnetGroupStateFault",
                f"Cannot delete the subnet group '{subnet_name}' because at least one database instance: "
                f"{users[0].db_instance_identifier} is still using it.",
            )
    return original(self, subnet_name)


for _reader in ("describe_db_instances", "describe_db_subnet_groups"):
    wrap(RDSBackend, _reader)(_under_lock)
wrap(SecretsManagerBackend, "list_secrets")(_under_lock)  # the double deletes RDS's secrets


# --------------------------------------------------------------------------------------------
# IAM and Application Auto Scaling


@wrap(IAMBackend, "create_role")
def _iam_create_role(original, self, *args, **kwargs):  # type: ignore[no-untyped-def]
    role = original(self, *args, **kwargs)
    iam_state(self.account_id).role_created[role.arn] = now()
    return role


@wrap(IAMBackend, "create_service_linked_role")
def _iam_create_service_linked_role(original, self, service_name, description, suffix):  # type: ignore[no-untyped-def]
    if not on("R8"):
        return original(self, service_name, description, suffix)
    name = SERVICE_LINKED_ROLE_NAMES.get(service_name)
    if name is None:
        try:
            return original(self, service_name, description, suffix)
        except EntityAlreadyExists as error:
            taken = str(error.message).replace("Role with name ", "").replace(" already exists.", "")
            raise InvalidInput(
                f"Service role name {taken} has been taken in this account, please try a different suffix."
            )
    if suffix:
        name = f"{name}_{suffix}"
    if find_role(self, name) is not None:
        raise InvalidInput(
            f"Service role name {name} has been taken in this account, please try a different suffix."
        )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Action": ["sts:AssumeRole"], "Effect": "Allow", "Principal": {"Service": [service_name]}}
        ],
    }
    return self.create_role(
        name,
        json.dumps(trust),
        f"/aws-service-role/{service_name}/",
        permissions_boundary=None,
        description=description or "",
        tags=[],
        max_session_duration="3600",
        linked_service=service_name,
    )


@wrap(ApplicationAutoscalingBackend, "register_scalable_target")
def _scaling_register_scalable_target(original, self, *args, **kwargs):  # type: ignore[no-untyped-def]
    a = arguments(original, self, args, kwargs)
    if a.get("namespace") != "ecs" or not on("R8"):
        return original(self, *args, **kwargs)
    iam = iam_backend(self.account_id, self.region_name)
    partition = get_partition(self.region_name)
    arn = f"arn:{partition}:iam::{self.account_id}:role{SCALING_SLR_PATH}{SCALING_SLR_NAME}"
    if find_role(iam, SCALING_SLR_NAME, SCALING_SLR_PATH) is None:
        raise AWSValidationException(f"Unable to assume IAM role: {arn}")
    target = original(self, *args, **kwargs)
    if not target.role_arn:
        target.role_arn = arn
    return target


def _one_time_schedule(schedule: str | None) -> float | None:
    """The UTC time of an ``at(yyyy-mm-ddThh:mm:ss)`` schedule, as a Unix timestamp."""
    import datetime

    text = (schedule or "").strip()
    if not (text.startswith("at(") and text.endswith(")")):
        return None
    try:
        when = datetime.datetime.strptime(text[3:-1], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    return when.replace(tzinfo=datetime.timezone.utc).timestamp()


@wrap(ApplicationAutoscalingBackend, "put_scheduled_action")
def _scaling_put_scheduled_action(original, self, *args, **kwargs):  # type: ignore[no-untyped-def]
    if not on("R15"):
        return original(self, *args, **kwargs)
    a = arguments(original, self, args, kwargs)
    namespace, resource_id, dimension = a.get("service_namespace"), a.get("resource_id"), a.get("scalable_dimension")
    schedule = str(a.get("schedule") or "")
    if schedule and not any(schedule.startswith(kind + "(") and schedule.endswith(")") for kind in ("at", "rate", "cron")):
        raise AWSValidationException(f"Schedule expression {schedule} is not valid: use at(...), rate(...) or cron(...)")
    if schedule.startswith("at(") and _one_time_schedule(schedule) is None:
        raise AWSValidationException(f"Schedule expression {schedule} is not valid: at() takes yyyy-mm-ddThh:mm:ss")
    if resource_id not in self.targets.get(dimension, {}):
        raise DoubleError(
            "ObjectNotFoundException",
            f"No scalable target registered for service namespace: {namespace}, resource ID: {resource_id}, scalable dimension: {dimension}",
        )
    return original(self, *args, **kwargs)


@wrap(ApplicationAutoscalingBackend, "deregister_scalable_target")
def _scaling_deregister_scalable_target(original, self, *args, **kwargs):  # type: ignore[no-untyped-def]
    result = original(self, *args, **kwargs)
    if on("R15"):
        a = arguments(original, self, args, kwargs)
        resource_id, dimension = a.get("r_id"), a.get("dimension")
        self.scheduled_actions = [
            action
            for action in self.scheduled_actions
            if not (action.resource_id == resource_id and action.scalable_dimension == dimension)
        ]
        for key, policy in list(self.policies.items()):
            if policy.resource_id == resource_id and policy.scalable_dimension == dimension:
                del self.policies[key]
    return result


@wrap(ApplicationAutoscalingBackend, "describe_scaling_policies")
def _scaling_describe_scaling_policies(original, self, *args, **kwargs):  # type: ignore[no-untyped-def]
    a = arguments(original, self, args, kwargs)
    token, policies = original(self, *args, **kwargs)
    wanted = a.get("resource_id")
    if on("R11") and wanted:
        # moto matches ResourceId as a substring; AWS matches it exactly.
        policies = [policy for policy in policies if policy.resource_id == wanted]
    return token, policies


# --------------------------------------------------------------------------------------------
# R16: task listing


@wrap(EC2ContainerServiceResponse, "list_tasks")
def _ecs_list_tasks(original, self):  # type: ignore[no-untyped-def]
    w = response_world(self)
    result = original(self)  # moto's RunTask tasks; also checks that the cluster exists
    if not on("R16") or not isinstance(result, ActionResult) or not isinstance(result.result, dict):
        return result
    cluster = str(self._get_param("cluster", "default")).split("/")[-1]
    service_name = self._get_param("serviceName")
    wanted = self._get_param("desiredStatus") or "RUNNING"
    arns = [] if service_name else list(result.result.get("taskArns") or [])
    prefix = f"arn:{get_partition(w.region)}:ecs:{w.region}:{w.account}:task/{cluster}/"
    for task in w.listed_tasks:
        if task.cluster != cluster or (service_name and task.service_name != service_name):
            continue
        if (task.stop_at is None) == (wanted == "RUNNING"):
            arns.append(prefix + task.id)
    result.result["taskArns"] = arns
    return result


@wrap(LogsResponse, "filter_log_events")
def _logs_filter_log_events(original, self):  # type: ignore[no-untyped-def]
    hidden: dict[str, Any] = {}
    if on("R16"):
        hidden["interleaved"] = True
    if on("R11"):  # moto pages correctly; only the page size is clamped (one hide_params)
        hidden["limit"] = _page_size(self._get_param("limit"))
    if hidden:
        hide_params(self, hidden)
    return original(self)


# --------------------------------------------------------------------------------------------
# R17: load balancer metrics

ALB_NAMESPACE = "AWS/ApplicationELB"
DEFAULT_BEHAVIOUR = (0.0, 0.01)  # (error share, response seconds) of a group nobody described


class OfferedTraffic:
    """Requests a second offered to the listeners that forward to `groups`, and how each named
    group answers them."""

    def __init__(self, rate: float, behaviour: dict[str, tuple[float, float]]):
        self.rate = rate
        self.behaviour = behaviour  # target group ARN -> (error share, response seconds)


class TrafficSecond:
    """What one target group served in one wall-clock second."""

    def __init__(self) -> None:
        self.requests = 0.0
        self.errors = 0.0
        self.latencies: dict[float, float] = {}  # response seconds -> requests


def _alb_serve(w: World, until: float) -> None:
    """Moves the offered traffic forward to wall-clock time `until`, by the listeners' weights
    now (every request ticks first, so a weight change splits the time where it happened)."""
    since = w.traffic_clock
    w.traffic_clock = until
    if since is None or until <= since or not w.offered:
        return
    shares: list[tuple[str, str, float, tuple[float, float]]] = []  # (lb, group, requests/s, behaviour)
    for lb in list(w.elbv2().load_balancers.values()):
        for listener in list(lb.listeners.values()):
            for action in listener.default_actions or []:
                data = getattr(action, "data", None) or {}
                if str(data.get("Type", "")).lower() != "forward":
                    continue
                weights: dict[str, float] = {}
                if data.get("TargetGroupArn"):
                    weights[data["TargetGroupArn"]] = 1.0
                for group in (data.get("ForwardConfig") or {}).get("TargetGroups") or []:
                    if group.get("TargetGroupArn"):
                        weights[group["TargetGroupArn"]] = float(group.get("Weight", 1) or 0)
                offered = next((o for o in w.offered if any(arn in o.behaviour for arn in weights)), None)
                total = sum(weights.values())
                if offered is None or offered.rate <= 0 or total <= 0:
                    continue
                for arn, weight in weights.items():
                    if weight > 0:
                        shares.append((lb.arn, arn, offered.rate * weight / total,
                                       offered.behaviour.get(arn, DEFAULT_BEHAVIOUR)))
    if not shares:
        return
    at = since
    while at < until:
        second = int(at)
        end = min(until, second + 1.0)
        for lb_arn, arn, rate, (error_share, response) in shares:
            served = w.served.setdefault((lb_arn, arn), {}).setdefault(second, TrafficSecond())
            requests = rate * (end - at)
            served.requests += requests
            served.errors += requests * error_share
            served.latencies[response] = served.latencies.get(response, 0.0) + requests
        at = end
    horizon = int(until) - 3 * 3600  # three hours of traffic are plenty for any test
    for seconds in w.served.values():
        for old in [key for key in seconds if key < horizon]:
            del seconds[old]


def _percentile(latencies: dict[float, float], percent: float) -> float:
    total = sum(latencies.values())
    rank = total * percent / 100.0
    seen = 0.0
    for latency in sorted(latencies):
        seen += latencies[latency]
        if seen >= rank - 1e-9:
            return latency
    return max(latencies)


def _alb_statistic(metric: str, stat: str, served: list[TrafficSecond]) -> float | None:
    requests = sum(second.requests for second in served)
    if requests <= 0:
        return None
    if metric == "RequestCount" and stat in ("Sum", "SampleCount"):
        return requests
    if metric == "HTTPCode_Target_5XX_Count" and stat in ("Sum", "SampleCount"):
        errors = sum(second.errors for second in served)
        return errors if errors > 0 else None
    if metric == "TargetResponseTime":
        latencies: dict[float, float] = {}
        for second in served:
            for latency, count in second.latencies.items():
                latencies[latency] = latencies.get(latency, 0.0) + count
        if stat == "Average":
            return sum(latency * count for latency, count in latencies.items()) / requests
        if stat == "Minimum":
            return min(latencies)
        if stat == "Maximum":
            return max(latencies)
        if stat.startswith("p"):
            try:
                percent = float(stat[1:])
            except ValueError:
                return None
            if 0 <= percent <= 100:
                return _percentile(latencies, percent)
    return None


def _alb_query(w: World, query: dict, start: float, end: float, scan_by: str) -> dict:
    stat_spec = query["MetricStat"]
    metric = stat_spec["Metric"]
    period = int(stat_spec["Period"])
    if period not in (1, 5, 10, 20, 30) and period % 60 != 0:
        raise DoubleError("InvalidParameterValue",
                          f"The parameter MetricDataQueries.member.MetricStat.Period must be 1, 5, 10, 20, 30 "
                          f"or a multiple of 60 (got {period}).")
    dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []}
    wanted = None
    if set(dimensions) == {"LoadBalancer", "TargetGroup"}:
        for lb_arn, arn in w.served:
            if (lb_arn.split(":loadbalancer/", 1)[-1] == dimensions["LoadBalancer"]
                    and arn.rsplit(":", 1)[-1] == dimensions["TargetGroup"]):
                wanted = (lb_arn, arn)
    values: list[float] = []
    timestamps: list[Any] = []
    seconds = w.served.get(wanted, {}) if wanted else {}
    at = start
    while at < end:
        served = [seconds[s] for s in range(int(at), int(min(end, at + period))) if s in seconds]
        value = _alb_statistic(metric["MetricName"], stat_spec["Stat"], served)
        if value is not None:
            values.append(value)
            timestamps.append(datetime.datetime.fromtimestamp(at, tz=datetime.timezone.utc))
        at += period
    if scan_by == "TimestampDescending":
        values.reverse()
        timestamps.reverse()
    return {
        "id": query["Id"],
        "label": query.get("Label") or f"{metric['MetricName']} {stat_spec['Stat']}",
        "values": values,
        "timestamps": timestamps,
        "status_code": "Complete",
    }


@wrap(CloudWatchResponse, "get_metric_data")
def _cloudwatch_get_metric_data(original, self):  # type: ignore[no-untyped-def]
    if not on("R17"):
        return original(self)
    params = self._get_params()
    queries = params.get("MetricDataQueries", [])
    ours = [q for q in queries if (q.get("MetricStat") or {}).get("Metric", {}).get("Namespace") == ALB_NAMESPACE]
    if not ours:
        return original(self)
    w = response_world(self)
    _alb_serve(w, time.time())
    start = params["StartTime"].timestamp()
    end = params["EndTime"].timestamp()
    if start >= end:
        raise DoubleError("ValidationError", "The parameter EndTime must be greater than StartTime.")
    scan_by = params.get("ScanBy") or "TimestampDescending"
    results = [_alb_query(w, query, start, end, scan_by) for query in ours if query.get("ReturnData", True)]
    others = [q for q in queries if q not in ours]
    if others:
        results.extend(self.cloudwatch_backend.get_metric_data(
            start_time=params["StartTime"], end_time=params["EndTime"], queries=others, scan_by=scan_by))
    return ActionResult({"MetricDataResults": results})


@wrap(CloudWatchResponse, "put_metric_data")
def _cloudwatch_put_metric_data(original, self):  # type: ignore[no-untyped-def]
    namespace = str(self._get_param("Namespace") or "")
    if on("R17") and namespace.startswith("AWS/"):
        raise DoubleError("InvalidParameterValue",
                          f"The value {namespace} for parameter Namespace is invalid: namespaces beginning "
                          "with AWS/ are reserved for use by Amazon Web Services products.")
    return original(self)


def _alb_traffic(request: Any, full_url: str, headers: Any):  # type: ignore[no-untyped-def]
    """The test-control endpoint of R17 (not an AWS API)."""
    if request.method != "POST":
        return 405, {}, json.dumps({"error": "POST a JSON body"})
    try:
        body = json.loads(request.data or b"{}")
        account = str(body.get("account") or "123456789012")
        region = str(body["region"])
        rate = float(body.get("requests_per_second", 0))
        named = body.get("target_groups") or {}
        if rate < 0 or not isinstance(named, dict) or not named:
            raise ValueError("requests_per_second >= 0 and a non-empty target_groups object")
    except (ValueError, KeyError, TypeError) as error:
        return 400, {}, json.dumps({"error": f"bad traffic: {error}"})
    with LOCK:
        w = world(account, region)
        w.tick(now())
        _alb_serve(w, time.time())
        groups = {group.name: arn for arn, group in w.elbv2().target_groups.items()}
        behaviour: dict[str, tuple[float, float]] = {}
        for name, answers in named.items():
            arn = name if name in w.elbv2().target_groups else groups.get(name)
            if arn is None:
                return 404, {}, json.dumps({"error": f"no target group {name} in {account}/{region}"})
            answers = answers or {}
            share = float(answers.get("error_share", 0.0))
            if not 0.0 <= share <= 1.0:
                return 400, {}, json.dumps({"error": "error_share is a fraction from 0 to 1"})
            behaviour[arn] = (share, max(0.0, float(answers.get("response_seconds", DEFAULT_BEHAVIOUR[1]))))
        w.offered = [o for o in w.offered if not any(arn in o.behaviour for arn in behaviour)]
        if rate > 0:
            w.offered.append(OfferedTraffic(rate, behaviour))
    return 200, {}, json.dumps({"status": "ok"})


moto_api_urls.url_paths["{0}/moto-api/double/alb-traffic"] = _alb_traffic


# --------------------------------------------------------------------------------------------
# R10: throttling

_throttled_describes(ELBV2Response, "Throttling", "elbv2-describe")
_throttled_describes(EC2ContainerServiceResponse, "ThrottlingException", "ecs-describe")


@wrap(CloudWatchResponse, "put_metric_alarm")
def _cloudwatch_put_metric_alarm(original, self):  # type: ignore[no-untyped-def]
    world(self.current_account, self.region).throttle("put-metric-alarm", ALARM_RATE, "Throttling")
    return original(self)


# --------------------------------------------------------------------------------------------
# R11: pagination

TOKEN_PREFIX = "double-page-"


def _encode(offset: int) -> str:
    return f"{TOKEN_PREFIX}{offset}"


def _decode(token: Any, invalid: ServiceException) -> int:
    if token in (None, ""):
        return 0
    text = str(token)
    if not text.startswith(TOKEN_PREFIX):
        raise invalid
    try:
        return max(0, int(text[len(TOKEN_PREFIX):]))
    except ValueError:
        raise invalid


def _page_size(requested: Any) -> int:
    try:
        asked = int(requested) if requested not in (None, "") else PAGE_SIZE
    except (TypeError, ValueError):
        asked = PAGE_SIZE
    return max(1, min(asked, PAGE_SIZE))


def paged(
    cls: type,
    name: str,
    list_keys: list[str],
    token_in: str,
    token_out: str,
    max_in: str,
    invalid: ServiceException,
    truncated_key: str | None = None,
    only_when_asked: bool = False,
    json_body: bool = False,
) -> None:
    """Pages a call moto answers in one piece: the full answer is computed (with the
    caller's token and page size hidden from moto) and sliced."""

    @wrap(cls, name)
    def _paged(original, self):  # type: ignore[no-untyped-def]
        token = self._get_param(token_in)
        requested = self._get_param(max_in)
        if not on("R11") or (only_when_asked and token in (None, "") and requested in (None, "")):
            return original(self)
        start = _decode(token, invalid)
        size = _page_size(requested)
        hide_params(self, {token_in: None, max_in: None})
        result = original(self)
        if json_body:
            body = json.loads(result)
        elif isinstance(result, ActionResult) and isinstance(result.result, dict):
            body = result.result
        else:
            return result
        items: list[tuple[str, Any]] = []
        for key in list_keys:
            items.extend((key, item) for item in list(body.get(key) or []))
        page = items[start : start + size]
        more = start + size < len(items)
        for key in list_keys:
            if key in body or any(k == key for k, _ in page):
                body[key] = [item for k, item in page if k == key]
        body[token_out] = _encode(start + size) if more else None
        if truncated_key:
            body[truncated_key] = more
        return json.dumps(body) if json_body else result


def clamped_params(cls: type, name: str, max_in: str) -> None:
    """Like clamped, for calls moto pages from the parsed parameters (its PaginatedResult, as in
    RDS), which hide_params does not reach."""

    @wrap(cls, name)
    def _clamped(original, self):  # type: ignore[no-untyped-def]
        if on("R11"):
            self.params[max_in] = _page_size(self.params.get(max_in))
        return original(self)


def clamped(cls: type, name: str, max_in: str) -> None:
    """Pages a call moto paginates correctly: only the page size is clamped."""

    @wrap(cls, name)
    def _clamped(original, self):  # type: ignore[no-untyped-def]
        if on("R11"):
            hide_params(self, {max_in: _page_size(self._get_param(max_in))})
        return original(self)


_ec2_invalid = DoubleError("InvalidParameterValue", "The token is invalid or has expired.")
paged(CloudWatchResponse, "describe_alarms", ["MetricAlarms", "CompositeAlarms"], "NextToken", "NextToken", "MaxRecords",
      DoubleError("InvalidNextToken", "The next token is invalid."))
paged(IamResponse, "list_role_policies", ["PolicyNames"], "Marker", "Marker", "MaxItems",
      InvalidInput("Invalid Marker."), truncated_key="IsTruncated")
paged(EC2ContainerServiceResponse, "list_services", ["serviceArns"], "nextToken", "nextToken", "maxResults",
      InvalidParameterException("Invalid nextToken."))
paged(EC2ContainerServiceResponse, "list_tasks", ["taskArns"], "nextToken", "nextToken", "maxResults",
      InvalidParameterException("Invalid nextToken."))
paged(ELBV2Response, "describe_target_groups", ["TargetGroups"], "Marker", "NextMarker", "PageSize",
      ValidationError("Invalid Marker."))
paged(ApplicationAutoScalingResponse, "describe_scalable_targets", ["ScalableTargets"], "NextToken", "NextToken",
      "MaxResults", AWSValidationException("Invalid NextToken."), json_body=True)
paged(EC2Response, "describe_subnets", ["Subnets"], "NextToken", "NextToken", "MaxResults", _ec2_invalid,
      only_when_asked=True)
paged(EC2Response, "describe_security_groups", ["SecurityGroups"], "NextToken", "NextToken", "MaxResults",
      _ec2_invalid, only_when_asked=True)
paged(EC2Response, "describe_route_tables", ["RouteTables"], "NextToken", "NextToken", "MaxResults", _ec2_invalid,
      only_when_asked=True)
paged(EC2Response, "describe_nat_gateways", ["NatGateways"], "NextToken", "NextToken", "MaxResults", _ec2_invalid,
      only_when_asked=True)
clamped(IamResponse, "list_roles", "MaxItems")
clamped(IamResponse, "list_attached_role_policies", "MaxItems")
clamped(LogsResponse, "describe_log_groups", "limit")
clamped(SimpleSystemManagerResponse, "get_parameters_by_path", "MaxResults")
clamped(ELBV2Response, "describe_load_balancers", "PageSize")
clamped(ApplicationAutoScalingResponse, "describe_scaling_policies", "MaxResults")
clamped_params(RDSResponse, "describe_db_instances", "MaxRecords")
paged(RDSResponse, "describe_db_subnet_groups", ["DBSubnetGroups"], "Marker", "Marker", "MaxRecords",
      InvalidParameterValue("Invalid Marker."))


# --------------------------------------------------------------------------------------------


def _stop_when_stdin_closes() -> None:
    """Exits the whole process once stdin is at end of file: its writer (the test process) is gone.
    os._exit, because moto's server thread would keep an ordinary exit waiting."""
    def wait_for_end_of_file() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        os._exit(0)

    threading.Thread(target=wait_for_end_of_file, name="stdin-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    """Starts moto's server (the patches are installed on import)."""
    from moto.server import main as moto_main

    if os.environ.get("DOUBLE_STOP_WHEN_STDIN_CLOSES"):
        _stop_when_stdin_closes()
    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
