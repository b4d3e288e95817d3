"""The ledger in the admin, to look things up and never to edit (totals are sums of these rows), and
members and teams with what they spent this month (accounts sits below money, so their admin is here)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from runware_web.accounts import audit
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


class AuditedAdmin(admin.ModelAdmin):
    """Changes of a role, a team or a budget made in the admin go to the audit log too."""

    def save_model(self, request, obj, form, change) -> None:
        """A new member or team starts from nothing: its team, role and budget are changes too."""
        before = audit.snapshot(type(obj).objects.get(pk=obj.pk) if change else type(obj)())
        super().save_model(request, obj, form, change)
        audit.record_changes(before, obj, by=request.user, address=audit.address_of(request))

    def save_formset(self, request, form, formset, change) -> None:
        befores = {f.instance.pk: audit.snapshot(type(f.instance).objects.get(pk=f.instance.pk))
                   for f in formset.forms if f.instance.pk and f.has_changed()}
        super().save_formset(request, form, formset, change)
        for instance in formset.queryset.model.objects.filter(pk__in=befores):
            audit.record_changes(befores[instance.pk], instance, by=request.user, address=audit.address_of(request))


class MemberInline(admin.TabularInline):
    model = User
    fields = ("username", "email", "monthly_budget", "is_active")
    readonly_fields = ("username", "email")
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Team)
class TeamAdmin(AuditedAdmin):
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
class UserAdmin(AuditedAdmin, BaseUserAdmin):
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

    def user_change_password(self, request, id, form_url=""):
        """Staff setting a member's password here is audited like a member changing their own."""
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            member = User.objects.get(pk=id)
            audit.record(audit.Action.PASSWORD_CHANGED, by=request.user, team=member.team_id,
                         target=f"password of {member.get_username()}", before="old password",
                         after="set by staff in the admin", address=audit.address_of(request))
        return response
