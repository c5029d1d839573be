from rest_framework.permissions import BasePermission

from accounts.access import is_ally


class IsVerified(BasePermission):
    """A staff session must have passed the second factor, as for the admin."""

    message = "Two-factor verification required."

    def has_permission(self, request, view):
        user = request.user
        if is_ally(user):
            return False  # allies' keys open the /api/v1 export views only
        return bool(user and user.is_authenticated and user.is_verified())
