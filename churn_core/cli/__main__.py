"""`python -m churn_core.cli`: the `churn` command without its console script."""

from churn_core.cli import main

main()
