"""The ledger in the admin, to look things up and never to edit (totals are sums of these rows), and
members and teams with what they spent this month (accounts sits below money, so their admin is here)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from runware_web.accounts.models import Team, User
from runware_web.lib.money import usd
from runware_web.money import reports
from runware_web.money.models import BalanceReading, Charge


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


class MemberInline(admin.TabularInline):
    model = User
    fields = ("username", "email", "monthly_budget", "is_active")
    readonly_fields = ("username", "email")
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "monthly_budget", "spent_this_month", "member_count")
    list_editable = ("monthly_budget",)
    search_fields = ("name",)
    inlines = [MemberInline]

    @admin.display(description="Members")
    def member_count(self, team: Team) -> int:
        return team.members.count()

    @admin.display(description="Spent this month")
    def spent_this_month(self, team: Team) -> str:
        return usd(reports.team_budget_use(team).spent)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "team", "monthly_budget", "spent_this_month", "is_staff", "is_active")
    list_editable = ("monthly_budget",)
    list_filter = ("team", "role", "is_staff", "is_active")
    list_select_related = ("team",)
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Team and budget", {
            "fields": ("team", "role", "monthly_budget"),
            "description": "Monthly limits in US dollars; empty means no limit. Spend and remaining budgets "
                           "are on the Spend page.",
        }),
    )

    @admin.display(description="Spent this month")
    def spent_this_month(self, user: User) -> str:
        return usd(reports.member_budget_use(user).spent)
