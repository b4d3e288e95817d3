"""The fault suite: what an operator fears, done for real on the production layout.

PostgreSQL (this run's test database), Redis servers and Runware simulators of the suite's own
started as processes on free ports, and Daphne workers started as the README starts them. Workers
are killed with `kill -9`, Redis and the upstream are stopped and started again, the disk where
media go fills up, database connections are cut; every test then checks that no task, image or
cent was lost. Every process a test starts is stopped by its process id: the machine's shared
PostgreSQL and Redis are never touched. Runs in CI's PostgreSQL + Redis pass (`pytest -m faults`
runs the suite alone); on the embedded set-up there is no production layout and it is skipped.
"""
