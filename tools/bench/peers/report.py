"""The Markdown table: one row per figure, one column per supervisor, then
the best peer and reins' value divided by it (below 1: reins does better)."""

from figures.common import NA, Value


def number(value, unit):
    if unit == "KiB":
        return f"{value:,.0f}".replace(",", " ") if value >= 100 else f"{value:.1f}"
    if unit == "ticks":
        return f"{value:.0f}"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def cell(result, unit):
    if result is None:
        return "—"
    if isinstance(result, NA):
        return f"n/a ({result.reason})"
    if isinstance(result, str):  # an error
        return f"**error**: {result}"
    return result.text or f"{number(result.number, unit)} {unit}".strip()


def ratio(reins, peers, unit):
    """(best peer's name, reins ÷ best) over the peers with a number."""
    numbers = [(r.number, name) for name, r in peers.items() if isinstance(r, Value) and not r.text]
    if not numbers or not isinstance(reins, Value) or reins.text:
        return "—", "—"
    best = min(n for n, _ in numbers)
    best_text = ", ".join(name for n, name in numbers if n == best) + f" ({number(best, unit)})"
    if best == 0:
        return best_text, "= (both 0)" if reins.number == 0 else "— (best is 0)"
    return best_text, f"{reins.number / best:.2f}"


def table(rows, names, results, labels):
    """rows: [(key, label, unit)]; results: {peer: {key: Value | NA | str}}."""
    head = ["figure", *names, "best peer", "reins ÷ best"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" + "---:|" * (len(head) - 1)]
    for key, label, unit in rows:
        values = {n: results.get(n, {}).get(key) for n in names}
        peers = {n: v for n, v in values.items() if n != "reins"}
        best, r = ratio(values.get("reins"), peers, unit)
        out.append("| " + " | ".join([label.format(**labels), *(cell(values[n], unit) for n in names), best, r])
                   + " |")
    return "\n".join(out)


def notes(names, results):
    out = []
    for n in names:
        details = [v.detail for v in results.get(n, {}).values() if isinstance(v, Value) and v.detail]
        if details:
            out.append(f"- {n}: " + "; ".join(details))
    return "\n".join(out)
