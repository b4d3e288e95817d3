from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from runware_web.accounts.models import Team, User
from runware_web.spend import reports
from runware_web.spend.templatetags.spend import usd


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
    list_filter = ("team", "is_staff", "is_active")
    list_select_related = ("team",)
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Team and budget", {
            "fields": ("team", "monthly_budget"),
            "description": "Monthly limits in US dollars; empty means no limit. Spend and remaining budgets "
                           "are on the Spend page.",
        }),
    )

    @admin.display(description="Spent this month")
    def spent_this_month(self, user: User) -> str:
        return usd(reports.member_budget_use(user).spent)
