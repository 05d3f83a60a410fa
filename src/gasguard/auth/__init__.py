"""Users, roles, password hashing, bearer tokens and the login rate limiter.

There are no default credentials: the first admin is made with ``gasguard users create --role admin``.
"""

from gasguard.auth.passwords import PasswordPolicyError, hash_password, verify_password
from gasguard.auth.ratelimit import LoginRateLimiter
from gasguard.auth.roles import Principal, Role
from gasguard.auth.tokens import TokenHasher
from gasguard.auth.users import (
    AuthError,
    DeviceToken,
    IssuedToken,
    User,
    authenticate_password,
    authenticate_token,
    create_device_token,
    create_session,
    create_user,
    get_user,
    list_device_tokens,
    list_users,
    revoke_session,
    revoke_token,
    set_password,
    update_user,
)

__all__ = [
    "AuthError",
    "DeviceToken",
    "IssuedToken",
    "LoginRateLimiter",
    "PasswordPolicyError",
    "Principal",
    "Role",
    "TokenHasher",
    "User",
    "authenticate_password",
    "authenticate_token",
    "create_device_token",
    "create_session",
    "create_user",
    "get_user",
    "hash_password",
    "list_device_tokens",
    "list_users",
    "revoke_session",
    "revoke_token",
    "set_password",
    "update_user",
    "verify_password",
]
