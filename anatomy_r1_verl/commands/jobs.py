"""``anatomy-r1 jobs``: list, inspect, follow and stop the Ray jobs of a cluster.

    anatomy-r1 jobs list [--address A]              every job: id, status, recipe, start time
    anatomy-r1 jobs status ID [--address A]         one job's status and message
    anatomy-r1 jobs logs ID [--follow] [--address A]  its log (--follow: stream until it ends)
    anatomy-r1 jobs stop ID [--address A]           stop it (Ray sends SIGTERM, then SIGKILL)

``--address`` defaults to ``$RAY_ADDRESS`` (the head's dashboard, ``http://HEAD:8265``). Ray's own
``ray job list|status|logs|stop --address ...`` do the same.
"""

from __future__ import annotations

import argparse
import sys
import time

from anatomy_r1_verl.commands.submit import SubmitError, client, follow


def _fmt_time(ms) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000)) if ms else "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="anatomy-r1 jobs", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("action", choices=["list", "status", "logs", "stop"])
    ap.add_argument("job_id", nargs="?")
    ap.add_argument("--address", help="the head's dashboard, http://HEAD:8265 (default: $RAY_ADDRESS)")
    ap.add_argument("--follow", action="store_true", help="logs: stream until the job ends")
    args = ap.parse_args(argv)
    if args.action != "list" and not args.job_id:
        ap.error(f"`jobs {args.action}` needs a job id (see `anatomy-r1 jobs list`)")
    try:
        jobs = client(args.address)
        if args.action == "list":
            for j in sorted(jobs.list_jobs(), key=lambda j: j.start_time or 0):
                recipe = (j.metadata or {}).get("recipe", j.entrypoint)
                print(f"{j.submission_id or j.job_id}  {j.status.value:<9}  {_fmt_time(j.start_time)}  {recipe}")
        elif args.action == "status":
            info = jobs.get_job_info(args.job_id)
            print(f"{args.job_id}: {info.status.value}" + (f"\n{info.message}" if info.message else ""))
        elif args.action == "logs":
            if args.follow:
                status = follow(args.job_id, args.address)
                print(f"[anatomy-r1] job {args.job_id}: {status}")
            else:
                sys.stdout.write(jobs.get_job_logs(args.job_id))
        elif args.action == "stop":
            stopped = jobs.stop_job(args.job_id)
            print(f"{args.job_id}: {'stop requested' if stopped else 'not running'}")
    except SubmitError as e:
        print(f"anatomy-r1: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:  # the client's errors for an unknown job id, etc.
        print(f"anatomy-r1: {e}", file=sys.stderr)
        return 1
    return 0
