//! VPC, internet gateway, subnets, NAT gateways with their elastic IPs, and route tables.

use aws_sdk_ec2::types::{AttributeBooleanValue, DomainType, ResourceType};

use super::Aws;
use super::errors::explain;
use super::model::{Ids, Kind, Resource};
use super::retry;
use super::tags;
use crate::spec::Spec;

pub async fn create_vpc(aws: &Aws, spec: &Spec, resource: &Resource) -> anyhow::Result<String> {
    let vpc = aws
        .ec2
        .create_vpc()
        .cidr_block(resource.get("cidr"))
        .tag_specifications(tags::ec2(spec, resource, ResourceType::Vpc))
        .send()
        .await
        .map_err(|e| explain("CreateVpc", e))?;
    let id = vpc
        .vpc()
        .and_then(|vpc| vpc.vpc_id())
        .unwrap_or_default()
        .to_owned();
    // Load balancer and ECS service discovery need DNS names inside the VPC.
    retry::after_create(&aws.events, "enable DNS hostnames in the VPC", || async {
        aws.ec2
            .modify_vpc_attribute()
            .vpc_id(&id)
            .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
            .send()
            .await
            .map_err(|e| explain("ModifyVpcAttribute", e))
    })
    .await?;
    Ok(id)
}

pub async fn create_internet_gateway(
    aws: &Aws,
    spec: &Spec,
    resource: &Resource,
    ids: &Ids,
) -> anyhow::Result<String> {
    let gateway = aws
        .ec2
        .create_internet_gateway()
        .tag_specifications(tags::ec2(spec, resource, ResourceType::InternetGateway))
        .send()
        .await
        .map_err(|e| explain("CreateInternetGateway", e))?;
    let id = gateway
        .internet_gateway()
        .and_then(|gateway| gateway.internet_gateway_id())
        .unwrap_or_default()
        .to_owned();
    retry::after_create(&aws.events, "attach the internet gateway", || async {
        aws.ec2
            .attach_internet_gateway()
            .internet_gateway_id(&id)
            .vpc_id(ids.require(Kind::Vpc, resource.get("vpc"))?)
            .send()
            .await
            .map_err(|e| explain("AttachInternetGateway", e))
    })
    .await?;
    Ok(id)
}

pub async fn create_subnet(
    aws: &Aws,
    spec: &Spec,
    resource: &Resource,
    ids: &Ids,
) -> anyhow::Result<String> {
    let vpc = ids.require(Kind::Vpc, &super::names::Names::new(spec).base())?;
    let subnet = aws
        .ec2
        .create_subnet()
        .vpc_id(vpc)
        .cidr_block(resource.get("cidr"))
        .availability_zone(resource.get("az"))
        .tag_specifications(tags::ec2(spec, resource, ResourceType::Subnet))
        .send()
        .await
        .map_err(|e| explain("CreateSubnet", e))?;
    Ok(subnet
        .subnet()
        .and_then(|subnet| subnet.subnet_id())
        .unwrap_or_default()
        .to_owned())
}

pub async fn create_elastic_ip(
    aws: &Aws,
    spec: &Spec,
    resource: &Resource,
) -> anyhow::Result<String> {
    let address = aws
        .ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .tag_specifications(tags::ec2(spec, resource, ResourceType::ElasticIp))
        .send()
        .await
        .map_err(|e| explain("AllocateAddress", e))?;
    Ok(address.allocation_id().unwrap_or_default().to_owned())
}

pub async fn create_nat_gateway(
    aws: &Aws,
    spec: &Spec,
    resource: &Resource,
    ids: &Ids,
) -> anyhow::Result<String> {
    let nat = aws
        .ec2
        .create_nat_gateway()
        .subnet_id(ids.require(Kind::Subnet, resource.get("subnet"))?)
        .allocation_id(ids.require(Kind::ElasticIp, resource.get("eip"))?)
        .tag_specifications(tags::ec2(spec, resource, ResourceType::Natgateway))
        .send()
        .await
        .map_err(|e| explain("CreateNatGateway", e))?;
    let id = nat
        .nat_gateway()
        .and_then(|nat| nat.nat_gateway_id())
        .unwrap_or_default()
        .to_owned();
    // Private subnets route through it: wait until it carries traffic.
    retry::poll_until(
        &format!("NAT gateway {} becoming available", resource.name),
        std::time::Duration::from_secs(600),
        || async {
            match nat_state(aws, &id).await?.as_deref() {
                Some("failed") => anyhow::bail!("NAT gateway {} failed to start", resource.name),
                state => Ok(state == Some("available")),
            }
        },
    )
    .await?;
    Ok(id)
}

/// Creates the table with its default route and associations, or fixes both on an existing one.
pub async fn ensure_route_table(
    aws: &Aws,
    spec: &Spec,
    resource: &Resource,
    existing: Option<&Resource>,
    ids: &Ids,
) -> anyhow::Result<String> {
    let id = match ids.get(Kind::RouteTable, &resource.name) {
        Some(id) => id.to_owned(),
        None => {
            let vpc = ids.require(Kind::Vpc, &super::names::Names::new(spec).base())?;
            let table = aws
                .ec2
                .create_route_table()
                .vpc_id(vpc)
                .tag_specifications(tags::ec2(spec, resource, ResourceType::RouteTable))
                .send()
                .await
                .map_err(|e| explain("CreateRouteTable", e))?;
            table
                .route_table()
                .and_then(|table| table.route_table_id())
                .unwrap_or_default()
                .to_owned()
        }
    };
    let route = resource.get("route");
    if existing.map(|existing| existing.get("route")) != Some(route) {
        let has_route = existing.is_some_and(|existing| !existing.get("route").is_empty());
        if has_route {
            aws.ec2
                .delete_route()
                .route_table_id(&id)
                .destination_cidr_block("0.0.0.0/0")
                .send()
                .await
                .map_err(|e| explain("DeleteRoute", e))?;
        }
        let mut request = aws
            .ec2
            .create_route()
            .route_table_id(&id)
            .destination_cidr_block("0.0.0.0/0");
        request = match route.split_once(':') {
            Some(("igw", name)) => request.gateway_id(ids.require(Kind::InternetGateway, name)?),
            Some(("nat", name)) => request.nat_gateway_id(ids.require(Kind::NatGateway, name)?),
            _ => anyhow::bail!("route table {}: unknown route `{route}`", resource.name),
        };
        retry::after_create(
            &aws.events,
            &format!("route of {}", resource.name),
            || async {
                request
                    .clone()
                    .send()
                    .await
                    .map_err(|e| explain("CreateRoute", e))
            },
        )
        .await?;
    }
    let have: Vec<&str> = existing
        .map(|existing| {
            existing
                .get("subnets")
                .split("; ")
                .filter(|name| !name.is_empty())
                .collect()
        })
        .unwrap_or_default();
    for subnet in resource
        .get("subnets")
        .split("; ")
        .filter(|name| !name.is_empty() && !have.contains(name))
    {
        retry::after_create(
            &aws.events,
            &format!("associate route table {}", resource.name),
            || async {
                aws.ec2
                    .associate_route_table()
                    .route_table_id(&id)
                    .subnet_id(ids.require(Kind::Subnet, subnet)?)
                    .send()
                    .await
                    .map_err(|e| explain("AssociateRouteTable", e))
            },
        )
        .await?;
    }
    Ok(id)
}

/// A NAT gateway's state (`pending`, `available`, `deleting`, `deleted`, `failed`).
async fn nat_state(aws: &Aws, id: &str) -> anyhow::Result<Option<String>> {
    let described = aws
        .ec2
        .describe_nat_gateways()
        .nat_gateway_ids(id)
        .send()
        .await
        .map_err(|e| explain("DescribeNatGateways", e))?;
    Ok(described
        .nat_gateways()
        .first()
        .and_then(|nat| nat.state())
        .map(|state| state.as_str().to_owned()))
}

pub async fn delete(aws: &Aws, kind: Kind, name: &str, ids: &Ids) -> anyhow::Result<()> {
    let id = ids.require(kind, name)?;
    match kind {
        Kind::Vpc => {
            aws.ec2
                .delete_vpc()
                .vpc_id(id)
                .send()
                .await
                .map_err(|e| explain("DeleteVpc", e))?;
        }
        Kind::InternetGateway => {
            let described = aws
                .ec2
                .describe_internet_gateways()
                .internet_gateway_ids(id)
                .send()
                .await
                .map_err(|e| explain("DescribeInternetGateways", e))?;
            for attachment in described
                .internet_gateways()
                .iter()
                .flat_map(|gateway| gateway.attachments())
            {
                if let Some(vpc) = attachment.vpc_id() {
                    aws.ec2
                        .detach_internet_gateway()
                        .internet_gateway_id(id)
                        .vpc_id(vpc)
                        .send()
                        .await
                        .map_err(|e| explain("DetachInternetGateway", e))?;
                }
            }
            aws.ec2
                .delete_internet_gateway()
                .internet_gateway_id(id)
                .send()
                .await
                .map_err(|e| explain("DeleteInternetGateway", e))?;
        }
        Kind::Subnet => {
            aws.ec2
                .delete_subnet()
                .subnet_id(id)
                .send()
                .await
                .map_err(|e| explain("DeleteSubnet", e))?;
        }
        Kind::ElasticIp => {
            aws.ec2
                .release_address()
                .allocation_id(id)
                .send()
                .await
                .map_err(|e| explain("ReleaseAddress", e))?;
        }
        Kind::NatGateway => {
            aws.ec2
                .delete_nat_gateway()
                .nat_gateway_id(id)
                .send()
                .await
                .map_err(|e| explain("DeleteNatGateway", e))?;
            // Its elastic IP and subnet can only go once it is gone.
            retry::poll_until(
                &format!("NAT gateway {name} being deleted"),
                retry::SETTLE,
                || async {
                    Ok(matches!(
                        nat_state(aws, id).await?.as_deref(),
                        None | Some("deleted")
                    ))
                },
            )
            .await?;
        }
        Kind::RouteTable => {
            let described = aws
                .ec2
                .describe_route_tables()
                .route_table_ids(id)
                .send()
                .await
                .map_err(|e| explain("DescribeRouteTables", e))?;
            for association in described
                .route_tables()
                .iter()
                .flat_map(|table| table.associations())
            {
                if let Some(association) = association.route_table_association_id()
                    && !association.is_empty()
                {
                    aws.ec2
                        .disassociate_route_table()
                        .association_id(association)
                        .send()
                        .await
                        .map_err(|e| explain("DisassociateRouteTable", e))?;
                }
            }
            aws.ec2
                .delete_route_table()
                .route_table_id(id)
                .send()
                .await
                .map_err(|e| explain("DeleteRouteTable", e))?;
        }
        _ => anyhow::bail!("{kind} is not a network resource"),
    }
    Ok(())
}
