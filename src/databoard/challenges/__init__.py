"""Challenges: problems (RAMP kits), events, sign-ups, submissions, leaderboards."""
