"""The task `make bench` (B7) sends through each queue to count tasks per second: it does
nothing, so that what is measured is the queue (enqueue, fetch, run, record), not the work."""

from django_tasks import task


@task()
def nothing(number: int) -> int:
    return number
