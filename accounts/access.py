"""Who is asking: a staff account, or an ally's API key (api.auth.AllyUser); and whether
they see everything. The querysets' `visible_to(user)` start from these."""


def is_ally(user) -> bool:
    """An allied organization's API key, not a staff account."""
    return getattr(user, "is_ally", False)


def sees_everything(user) -> bool:
    """Coordinators see restricted cases, confidential sources and protected names."""
    return (
        not is_ally(user)
        and user.is_authenticated
        and user.is_active
        and user.has_perm("cases.view_all_cases")
    )
