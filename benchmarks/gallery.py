"""Gallery speed: SQL queries per page and server time, at 1,000 and at 100,000 images.

Seeds a throwaway database with images spread over 50 members (and one task per one to four
images), then requests pages through Django's test Client, so the time measured is the server's
own: middleware, query, template rendering; no network, no browser. Pages measured:

- first page    /gallery/                      the member's newest 48 images
- later page    /gallery/?cursor=…             from the middle of the member's images (keyset)
- filtered      /gallery/?prompt=… / model / kind / date range / favourites / all at once
- image page    /gallery/<id>/                 one image with its task's parameters
- team, history /gallery/team/, /history/      for reference

For each page it prints the number of SQL queries (which must not grow with the data) and the
median and 95th percentile of the server time over --runs requests, rotating over five members,
plus the 95th percentile of this process's CPU time (on a busy machine wall time includes waiting
for a CPU; on PostgreSQL the database server's own work is not in the CPU figure). A last round
gives every image and task to one member: the worst case for a member's own pages.

Usage (from the repository root; the database named by DATABASE_URL is never touched: Django's
test-database machinery creates a separate one, `test_<name>` on PostgreSQL, and drops it):

    .venv/bin/python benchmarks/gallery.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rw_bench .venv/bin/python benchmarks/gallery.py
    .venv/bin/python benchmarks/gallery.py --images 20000 --runs 30 --explain

Images share one small placeholder file and one thumbnail (no 100,000 files are written).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("RUNWARE_WEB_DATA_DIR", tempfile.mkdtemp(prefix="rw-bench-gallery-"))

WORDS = ["lighthouse", "dusk", "harbour", "fog", "castle", "forest", "river", "mountain", "meadow", "desert", "city", "skyline", "neon", "rain", "portrait", "woman", "man", "child", "old", "sailor", "knight", "robot", "dragon", "cat", "dog", "fox", "owl", "whale", "horse", "garden", "library", "kitchen", "street", "market", "train", "station", "bridge", "tower", "temple", "ruins", "cathedral", "lantern", "candle", "sunset", "sunrise", "storm", "snow", "winter", "autumn", "spring", "summer", "night", "midnight", "morning", "golden", "hour", "watercolor", "oil", "painting", "sketch", "charcoal", "photograph", "cinematic", "isometric", "pixel", "art", "anime", "baroque", "minimalist", "surreal", "vintage", "futuristic", "cyberpunk", "steampunk", "gothic", "pastel", "vivid", "moody", "soft", "light", "dramatic", "lighting", "bokeh", "macro", "wide", "angle", "aerial", "view", "close-up", "detailed", "intricate"]
RARE_WORD = "zeppelin"  # in about 1 prompt of 2,000
MODELS = [f"runware:{n}@1" for n in (100, 101, 97, 95, 5)] + [f"civitai:{n}@{n + 7}" for n in range(4201, 4216)]
KINDS = ["generated"] * 85 + ["upscaled"] * 7 + ["background_removed"] * 4 + ["uploaded"] * 4
MEMBERS = 50
PAGES = [
    "first page",
    "later page",
    "filter: prompt (common word)",
    "filter: prompt (rare word)",
    "filter: model",
    "filter: kind",
    "filter: date range",
    "filter: favourites",
    "filter: all at once",
    "image page",
    "team gallery",
    "history",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000, help="images at the large size (default 100,000)")
    parser.add_argument("--small", type=int, default=1_000, help="images at the small size (default 1,000; at least 500)")
    parser.add_argument("--runs", type=int, default=60, help="requests per page and size (default 60)")
    parser.add_argument("--explain", action="store_true", help="print the query plan of the gallery queries")
    parser.add_argument("--no-heavy", action="store_true", help="skip the one-member-owns-everything round")
    args = parser.parse_args()
    if args.small < 500 or args.images < args.small:
        parser.error("--small must be at least 500 (ten images a member) and --images at least --small")

    import django

    django.setup()
    from django.db import connection

    # No setup_test_environment(): its instrumented template rendering would inflate the times.
    vendor = connection.vendor
    print(f"Database: {vendor} ({connection.settings_dict['NAME']} → a throwaway test database)", flush=True)
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        seeder = Seeder()
        results = {}
        for size in (args.small, args.images):
            started = time.perf_counter()
            seeder.seed_up_to(size)
            print(f"Seeded {size:,} images in {time.perf_counter() - started:.1f} s; measuring…", flush=True)
            results[f"{size:,} images"] = measure(seeder.members[:5], args.runs, explain=args.explain and size == args.images)
        if not args.no_heavy:
            seeder.give_everything_to_one_member()
            print(f"Gave all {args.images:,} images to one member; measuring…", flush=True)
            results[f"{args.images:,}, one member"] = measure(seeder.members[:1], args.runs, explain=False)
        report(vendor, results)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


class Seeder:
    """Adds images (and their tasks) until the table holds the wanted number."""

    def __init__(self) -> None:
        from django.core.files.base import ContentFile
        from django.core.files.storage import default_storage
        from PIL import Image as PILImage

        from runware_web.accounts.models import Team, User

        self.random = random.Random(5)
        teams = [Team.objects.create(name=f"Team {n}") for n in range(5)]
        User.objects.bulk_create(
            [User(username=f"member{n:02d}", team=teams[n % len(teams)], password="!") for n in range(MEMBERS)]
        )
        self.members = list(User.objects.order_by("username"))
        png, webp = io.BytesIO(), io.BytesIO()
        PILImage.new("RGB", (64, 64), (90, 110, 160)).save(png, format="PNG")
        PILImage.new("RGB", (64, 64), (90, 110, 160)).save(webp, format="WEBP")
        self.file = default_storage.save("bench/placeholder.png", ContentFile(png.getvalue()))
        self.thumb = default_storage.save("bench/placeholder.webp", ContentFile(webp.getvalue()))
        self.count = 0

    def prompt(self) -> str:
        words = self.random.sample(WORDS, self.random.randint(6, 14))
        if self.random.random() < 0.0005:
            words.insert(self.random.randrange(len(words)), RARE_WORD)
        return ", ".join(" ".join(words[i : i + 3]) for i in range(0, len(words), 3))

    def seed_up_to(self, total: int) -> None:
        from django.utils import timezone

        from runware_web.media.models import Image
        from runware_web.upstream.models import Task

        now = timezone.now()
        batch_images: list[Image] = []
        batch_tasks: list[Task] = []
        while self.count < total:
            member = self.members[self.count % MEMBERS]
            model = self.random.choice(MODELS)
            prompt = self.prompt()
            created = now - timedelta(seconds=self.random.randint(0, 365 * 86400))
            n = min(self.random.randint(1, 4), total - self.count)
            task = Task(
                user=member, team_id=member.team_id, feature="studio", task_type="imageInference", model=model,
                params={"model": model, "positivePrompt": prompt, "width": 1024, "height": 1024, "steps": 28,
                        "CFGScale": 3.5, "numberResults": n, "outputType": "URL", "outputFormat": "PNG"},
                status="done", number_results=n, results_received=n, cost=Decimal("0.0041") * n,
                created_at=created, started_at=created, finished_at=created + timedelta(seconds=3),
            )
            batch_tasks.append(task)
            for i in range(n):
                batch_images.append(
                    Image(
                        id=uuid.uuid4(), user=member, task=task, kind=self.random.choice(KINDS),
                        file=self.file, thumbnail=self.thumb, content_type="image/png", width=1024, height=1024,
                        size_bytes=1_234_567, prompt=prompt, model=model, seed=self.random.randint(1, 2**40),
                        cost=Decimal("0.0041"), favourite=self.random.random() < 0.08,
                        shared_with_team=self.random.random() < 0.10,
                        deleted_at=now if self.random.random() < 0.02 else None,
                        created_at=created + timedelta(microseconds=i),
                    )
                )
            self.count += n
            if len(batch_images) >= 5000:
                self.flush(batch_tasks, batch_images)
        self.flush(batch_tasks, batch_images)
        analyze()

    def give_everything_to_one_member(self) -> None:
        """The worst case for a member's own pages: one member owning every image and task."""
        from runware_web.media.models import Image
        from runware_web.upstream.models import Task

        Task.objects.update(user=self.members[0])
        Image.objects.update(user=self.members[0])
        analyze()

    @staticmethod
    def flush(tasks: list, images: list) -> None:
        from runware_web.media.models import Image
        from runware_web.upstream.models import Task

        Task.objects.bulk_create(tasks, batch_size=2000)
        Image.objects.bulk_create(images, batch_size=2000)
        tasks.clear()
        images.clear()


def analyze() -> None:
    """Fresh statistics (and, on PostgreSQL, a vacuumed table), as autovacuum gives production."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def urls_for(member) -> dict[str, str]:
    """The page URLs measured for one member (cursor and ids taken from their own images)."""
    from runware_web.media.models import Image
    from runware_web.lib.paging import Cursor

    mine = Image.objects.filter(user=member, deleted_at__isnull=True).order_by("-created_at", "-id")
    total = mine.count()
    middle = mine[total // 2]
    newest = mine.first()
    until = newest.created_at.date()
    since = until - timedelta(days=30)
    model = MODELS[0]
    return {
        "first page": "/gallery/",
        "later page": f"/gallery/?cursor={Cursor.after(middle)}",
        "filter: prompt (common word)": "/gallery/?prompt=lighthouse",
        "filter: prompt (rare word)": f"/gallery/?prompt={RARE_WORD}",
        "filter: model": f"/gallery/?model={model}",
        "filter: kind": "/gallery/?kind=upscaled",
        "filter: date range": f"/gallery/?since={since}&until={until}",
        "filter: favourites": "/gallery/?favourites=on",
        "filter: all at once": f"/gallery/?prompt=light&model={model}&kind=generated&since={since - timedelta(days=300)}"
        f"&until={until}&favourites=on",
        "image page": f"/gallery/{middle.pk}/",
        "team gallery": "/gallery/team/",
        "history": "/history/",
    }


def measure(members: list, runs: int, *, explain: bool) -> dict[str, tuple[int, float, float, float]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    clients = []
    for member in members:
        client = Client()
        client.force_login(member)
        clients.append((client, urls_for(member)))

    counts = {}
    for page in PAGES:
        with CaptureQueriesContext(connection) as queries:
            response = clients[0][0].get(clients[0][1][page])
        assert response.status_code == 200, (page, response.status_code)
        counts[page] = len(queries.captured_queries)  # now: the log is reset by the next request
        if explain and page.startswith(("first", "later", "filter", "team")):
            explain_queries(page, queries.captured_queries)
        for client, urls in clients:  # warm up every member's pages once
            client.get(urls[page])

    # Pages take turns, so a burst of load on a shared machine spreads over all of them.
    times: dict[str, list[float]] = {page: [] for page in PAGES}
    cpu: dict[str, list[float]] = {page: [] for page in PAGES}
    for run in range(runs):
        client, urls = clients[run % len(clients)]
        for page in PAGES:
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(urls[page])
            times[page].append((time.perf_counter() - started) * 1000)
            cpu[page].append((time.process_time() - started_cpu) * 1000)
            assert response.status_code == 200
    return {
        page: (counts[page], statistics.median(times[page]), percentile(times[page], 95), percentile(cpu[page], 95))
        for page in PAGES
    }


def percentile(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered)) - 1))]


def explain_queries(page: str, captured: list[dict]) -> None:
    from django.db import connection

    print(f"\n--- {page}")
    for query in captured:
        sql = query["sql"]
        if "gallery_image" not in sql and "upstream_task" not in sql:
            continue
        prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN ANALYZE "
        with connection.cursor() as cursor:
            cursor.execute(prefix + sql)
            rows = cursor.fetchall()
        print(sql[:300] + ("…" if len(sql) > 300 else ""))
        for row in rows:
            print("   ", row[-1] if connection.vendor == "sqlite" else row[0])


def report(vendor: str, results: dict[str, dict[str, tuple[int, float, float, float]]]) -> None:
    sizes = list(results)
    print(f"\nGallery pages on {vendor}: SQL queries per page; server time in ms (wall median / wall p95 / CPU p95)")
    print(f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (wall time includes waiting for a CPU)")
    header = f"{'page':30}" + "".join(f"{size:>36}" for size in sizes)
    print(header)
    print("-" * len(header))
    for page in PAGES:
        line = f"{page:30}"
        for size in sizes:
            count, median, p95, cpu95 = results[size][page]
            line += f"{count:>5} queries {median:>6.1f} /{p95:>6.1f} /{cpu95:>6.1f}"
        print(line)
    counts = {page: {results[size][page][0] for size in sizes} for page in PAGES}
    constant = all(len(c) == 1 for c in counts.values())
    print(f"\nQueries per page the same at every size: {'yes' if constant else 'NO'}")
    for size in sizes[1:]:
        worst = max(results[size][page][2] for page in PAGES)
        worst_cpu = max(results[size][page][3] for page in PAGES)
        print(f"Worst p95 at {size}: {worst:.1f} ms wall, {worst_cpu:.1f} ms CPU (aim: under 50 ms)")


if __name__ == "__main__":
    main()
