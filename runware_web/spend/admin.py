"""The ledger in the admin: to look things up, never to edit (totals are sums of these rows)."""

from django.contrib import admin

from runware_web.spend.models import BalanceReading, Charge


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Charge)
class ChargeAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "team", "task_type", "model", "amount", "task")
    list_filter = ("task_type", "team")
    list_select_related = ("user", "team", "task")
    search_fields = ("user__username", "model", "task__id")
    date_hierarchy = "created_at"


@admin.register(BalanceReading)
class BalanceReadingAdmin(ReadOnlyAdmin):
    list_display = ("taken_at", "balance", "last_charge_id", "tasks_running", "is_starting_point", "taken_by")
    list_filter = ("is_starting_point",)
