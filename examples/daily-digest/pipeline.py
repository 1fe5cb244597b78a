"""The daily-digest pipeline: an example KFP v1 pipeline kept in git with kfp-gitops.

Render it with `kfp-gitops render daily-digest` (the target is declared in the repository's kfp-gitops.yaml),
which runs `python pipeline.py --output {output}` in this folder with the KFP v1 SDK (kfp==1.8.22) and commits
the result to RENDERED_PIPELINE/ only when the pipeline really changed.

The definition must be deterministic: everything that depends on the time of a run happens inside a step
(`describe_today`) or comes from an Argo variable (`{{workflow.creationTimestamp.RFC3339}}`), never from
`datetime.now()` here.
"""

import argparse
import pathlib
from typing import NamedTuple

from kfp import compiler, dsl
from kfp.components import create_component_from_func, load_component_from_text

HERE = pathlib.Path(__file__).resolve().parent

# The parameter values committed beside the workflow, in RENDERED_PIPELINE/params/ (one file per parameter,
# content = value, byte for byte). Schedules and one-off runs read them from there.
PARAMS = {
    "greeting": "Good morning, team!\n\nToday's digest follows.\nReply in #ml-platform with questions.\n",
    "top_n": "5",
}


def describe_today(timezone_name: str) -> NamedTuple("Outputs", [("utc_epoch", int), ("day_of_week", str)]):
    """Reads the clock inside the step, at run time."""
    import datetime
    from collections import namedtuple

    now = datetime.datetime.now(datetime.timezone.utc)
    print(f"rendering the digest for {now.isoformat()} ({timezone_name})")
    outputs = namedtuple("Outputs", ["utc_epoch", "day_of_week"])
    return outputs(int(now.timestamp()), now.strftime("%A"))


describe_today_op = create_component_from_func(describe_today, base_image="python:3.10")

# Loaded from text rather than from the file path, so the rendered workflow does not record where this
# checkout happens to live.
print_message_op = load_component_from_text((HERE / "print_message.yaml").read_text())


@dsl.pipeline(
    name="daily-digest",
    description="Prints a multi-line greeting with the day of the week, once a day.",
)
def daily_digest(greeting: str, top_n: int = 3):
    today = describe_today_op(timezone_name="UTC")
    today.set_display_name("STEP 1: Describe today (Python function component)")

    message = (
        f"{greeting}\n"
        f"day: {today.outputs['day_of_week']} (epoch {today.outputs['utc_epoch']})\n"
        f"top items: {top_n}\n"
        "scheduled for: {{workflow.creationTimestamp.RFC3339}}"
    )
    printed = print_message_op(message=message)
    printed.set_display_name("STEP 2: Print the digest (YAML component)")
    printed.execution_options.caching_strategy.max_cache_staleness = "P0D"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="folder to write workflow.yaml and params/ into")
    output = pathlib.Path(parser.parse_args().output)

    output.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(daily_digest, str(output / "workflow.yaml"))
    params = output / "params"
    params.mkdir(exist_ok=True)
    for name, value in PARAMS.items():
        (params / name).write_bytes(value.encode("utf-8"))


if __name__ == "__main__":
    main()
