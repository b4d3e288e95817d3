"""Channel-layer group names, built in one place."""


def user_group(user_id: int) -> str:
    """Every open tab of one member, on any worker."""
    return f"user.{user_id}"


STAFF_SPEND_GROUP = "spend.staff"
