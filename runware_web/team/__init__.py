"""Team pages run by the team itself: members' roles and budgets, invitations, the audit log (model rules to follow)."""
