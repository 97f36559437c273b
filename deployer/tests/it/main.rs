//! dashctl end to end: the binary against real service binaries on loopback.

mod aws_clients;
mod aws_databases;
mod aws_deploy;
mod aws_destroy;
mod aws_errors;
mod aws_fixture;
mod aws_judging;
mod aws_rollout_journal;
mod aws_rollouts;
mod aws_test_route;
mod harness;
mod judgements;
mod local_autoscaling;
mod local_databases;
mod local_judging;
mod local_lifecycle;
mod local_paintshop;
mod local_proxy;
mod local_rollouts;
mod local_supervisor;
mod logs;
mod moto;
mod python_instance;
mod smoke_test;
mod validate;
