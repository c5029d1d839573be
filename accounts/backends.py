from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Aggregate, JSONField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Concat


class PermissionNames(Aggregate):
    """The permissions' "app_label.codename" names as one JSON array."""

    function = "JSON_GROUP_ARRAY"  # SQLite
    output_field = JSONField()

    def __init__(self, **extra):
        super().__init__(Concat("content_type__app_label", Value("."), "codename"), **extra)

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="JSONB_AGG", **extra_context)


def _names(via: str) -> Subquery:
    """One user's permission names, by the permission's relation `via` ("user": their own;
    "group__user": their groups')."""
    permissions = Permission.objects.filter(**{via: OuterRef("pk")}).order_by()
    return Subquery(permissions.values(via).annotate(names=PermissionNames()).values("names"))


class OneQueryModelBackend(ModelBackend):
    """Django's ModelBackend, with the permissions read in the same query as the user on every
    request (Django needs two more). Still read on every request, never cached across
    requests: a permission taken away applies at the next page."""

    @staticmethod
    def _users():
        return get_user_model()._default_manager.annotate(
            own_permission_names=_names("user"), group_permission_names=_names("group__user")
        )

    def _signed_in(self, user):
        if not self.user_can_authenticate(user):
            return None
        if not user.is_superuser:  # a superuser has them all: read when asked
            # The caches ModelBackend itself fills (_get_permissions, get_all_permissions).
            user._user_perm_cache = set(user.own_permission_names or ())
            user._group_perm_cache = set(user.group_permission_names or ())
            user._perm_cache = user._user_perm_cache | user._group_perm_cache
        return user

    def get_user(self, user_id):
        users = self._users()
        try:
            return self._signed_in(users.get(pk=user_id))
        except users.model.DoesNotExist:
            return None

    async def aget_user(self, user_id):  # request.auser(), under ASGI
        users = self._users()
        try:
            return self._signed_in(await users.aget(pk=user_id))
        except users.model.DoesNotExist:
            return None

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            permissions = Permission.objects.all()
            if not user_obj.is_superuser:
                permissions = permissions.filter(Q(user=user_obj) | Q(group__user=user_obj))
            user_obj._perm_cache = {
                f"{app_label}.{codename}"
                for app_label, codename in permissions.values_list(
                    "content_type__app_label", "codename"
                ).order_by()
            }
        return user_obj._perm_cache
