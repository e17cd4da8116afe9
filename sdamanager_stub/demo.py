"""A demo cluster for trying the shell: tokens, SDAs, groups and memberships
shaped like the operator's guide, on top of the default 60 x 8 cluster."""

from __future__ import annotations

from .manager import SDAManager


def seed_demo(manager: SDAManager) -> None:
    """Fill a fresh manager (default models and cluster) with demo data."""
    m = manager
    customers = [m.create_token(desc, prio) for desc, prio in (
        ("user@gmail.com_promo-vm-16", 0),
        ("hac-worker01", 0),
        ("hac-worker02", 0),
        ("kt.datalake@gmail.com_vpn-hac05", 1),
        ("moreh-server-0", -1),
    )]
    for token, model in zip(customers, (4, 1, 2, 3, 5)):
        m.create_sda(token.value, f"{token.description}-sda", model)
    m.add_token_env(customers[0].value, "MOREH_WHOLE_SYSTEM_PROFILING_MODE", "1")

    backend_ids = sorted(m.backends)
    bg1 = m.create_backendgroup("bg1", backend_ids[-4:])
    mg1 = m.create_sdamodelgroup("mg1", 0, [1, 2, 3])
    mg2 = m.create_sdamodelgroup("mg2", bg1.id, [3, 4, 52])
    ug1 = m.create_usergroup("ug1", "small customers", [customers[1].value, customers[2].value])
    ug2 = m.create_usergroup("ug2", "large customers", [customers[3].value])
    m.add_membership(ug1.id, mg1.id)
    m.add_membership(ug2.id, mg1.id)
    m.add_membership(ug2.id, mg2.id)
    m.create_version("23.9.2", "/opt/moreh/23.9.2")
    m.set_latest_version("23.9.2")
