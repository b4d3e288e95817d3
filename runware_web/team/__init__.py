"""Team pages run by the team itself: invitations (members, budgets and model rules to follow)."""
