from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from runware_web.accounts.models import Team, User


class MemberInline(admin.TabularInline):
    model = User
    fields = ("username", "email", "monthly_budget", "is_active")
    readonly_fields = ("username", "email")
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "monthly_budget", "member_count")
    search_fields = ("name",)
    inlines = [MemberInline]

    @admin.display(description="Members")
    def member_count(self, team: Team) -> int:
        return team.members.count()


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "team", "monthly_budget", "is_staff", "is_active")
    list_filter = ("team", "is_staff", "is_active")
    list_select_related = ("team",)
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Team and budget", {"fields": ("team", "monthly_budget")}),
    )
