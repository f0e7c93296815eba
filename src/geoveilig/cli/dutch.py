"""Dutch for the frame that Typer (and the copy of Click it carries) puts around our own texts:
usage line, section headings, ``[verplicht]``/``[standaard: ...]``, the ``--help`` option,
type labels and the error messages for a missing option, a bad value or an unknown command.

Typer 0.29 vendors Click (``typer._click``) with literal English strings, so gettext catalogues
do not reach them; :func:`install` patches the few places where they are produced, once, at
start-up (a few attribute assignments: it imports nothing beyond Typer). Rich's help panels are
switched off: the plain Click layout is Dutch here and starts about 0.2 s faster.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_INSTALLED = False

#: words of the frame (gettext ids used by ``typer.core``)
_WORDS = {
    "Options": "Opties", "Arguments": "Argumenten", "Commands": "Opdrachten",
    "required": "verplicht", "default: {default}": "standaard: {default}",
    "env var: {var}": "omgevingsvariabele: {var}", "Aborted!": "Afgebroken.",
    "No such command {name!r}.": "Onbekende opdracht {name!r}.",
    "Positional arguments": "Argumenten", "deprecated": "verouderd",
}
HELP_OPTION = "Toon deze hulp en stop."
USAGE = "Gebruik: "
#: type labels in option lists (``--window <tekst>``)
_TYPES = {
    "str": "tekst", "int": "geheel getal", "float": "getal", "bool": "ja/nee",
    "path": "pad", "file": "bestand", "dir": "map", "directory": "map",
    "datetime": "datum", "Path": "pad",
}
#: usage line pieces
_USAGE_WORDS = (("[OPTIONS]", "[OPTIES]"), ("COMMAND [ARGS]...", "OPDRACHT [ARGUMENTEN]..."))

#: error messages of the parser and of the type coercion (pydantic) -> Dutch; first match wins
_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.DOTALL), r) for p, r in (
        (r"^Missing option (.+?)\.?$", r"optie \1 ontbreekt."),
        (r"^Missing argument (.+?)\.?$", r"argument \1 ontbreekt."),
        (r"^Missing parameter:? ?(.*?)\.?$", r"waarde ontbreekt \1"),
        (r"^Missing (.+?)\.?$", r"\1 ontbreekt."),
        (r"^No such option:? (.+?)\.?$", r"onbekende optie \1."),
        (r"^No such command (.+?)\.?$", r"onbekende opdracht \1."),
        (r"^Onbekende opdracht (.+?)\.?$", r"onbekende opdracht \1."),
        (r"^Got unexpected extra argument(?:s|\(s\))? \((.*)\)$",
         r"onverwacht extra argument (\1)"),
        (r"^Option (.+?) requires an argument\.?$", r"optie \1 heeft een waarde nodig."),
        (r"^Option (.+?) requires (\d+) arguments\.?$", r"optie \1 heeft \2 waarden nodig."),
        (r"^Option (.+?) does not take a value\.?$", r"optie \1 neemt geen waarde."),
        (r"^Argument (.+?) takes (\d+) values\.?$", r"argument \1 heeft \2 waarden nodig."),
        (r"^Invalid value for (.+?): (.*)$", r"ongeldige waarde voor \1: \2"),
        (r"^Invalid value: (.*)$", r"ongeldige waarde: \1"),
        (r"^Could not open file (.+?): (.*)$", r"kan bestand \1 niet openen: \2"),
    ))
_SUGGESTION = re.compile(r"[.]? *(?:Did you mean (.+?)\?|\(Did you mean one of: (.+?)\?\)"
                         r"|\(Possible options: (.+?)\))$")
#: reasons inside a bad-value message (pydantic's wording through Typer's coercion)
_REASONS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = tuple(
    (re.compile(p, re.DOTALL), r) for p, r in (
        (r"Input should be a valid integer.*", "geef een geheel getal"),
        (r"Input should be a finite number.*", "geef een eindig getal"),
        (r"Input should be a valid number.*", "geef een getal (met een punt als decimaalteken)"),
        (r"Input should be a valid boolean.*", "geef ja/nee (true/false, 1/0)"),
        (r"Input should be a valid (date|datetime).*", "geef een datum (JJJJ-MM-DD)"),
        (r"Input should be (greater|less) than or equal to (\S+).*",
         lambda m: ("minstens " if m.group(1) == "greater" else "hoogstens ") + m.group(2)),
        (r"Input should be (greater|less) than (\S+).*",
         lambda m: ("meer dan " if m.group(1) == "greater" else "minder dan ") + m.group(2)),
        (r"Input should be (.+)", r"verwacht: \1"),
        (r"'(.+?)' is not one of (.+)\.?", r"'\1' is geen van \2"),
        (r"'?(.+?)'? is not a valid (\w+)\.?", r"'\1' is geen geldige waarde"),
        (r"Path '(.+)' does not exist\.?", r"pad '\1' bestaat niet"),
        (r"File '(.+)' does not exist\.?", r"bestand '\1' bestaat niet"),
        (r"(File|Path|Directory) '(.+)' is a (file|directory)\.?",
         lambda m: f"'{m.group(2)}' is een {'bestand' if m.group(3) == 'file' else 'map'}"),
        (r"Value must be an iterable\.?", "geef een lijst"),
    ))


def message(text: str) -> str:
    """An English Click/Typer error message in Dutch (unknown messages pass unchanged)."""
    text = text.strip()
    hint = ""
    suggestion = _SUGGESTION.search(text)
    if suggestion:
        text = text[:suggestion.start()]
        hint = f" Bedoelde u {next(g for g in suggestion.groups() if g)}?"
    for pattern, repl in _MESSAGES:
        m = pattern.match(text)
        if m:
            text = m.expand(repl) if isinstance(repl, str) else repl(m)
            break
    for pattern, reason in _REASONS:
        m = pattern.search(text)
        if m:
            dutch = m.expand(reason) if isinstance(reason, str) else reason(m)
            text = text[:m.start()] + dutch + text[m.end():]
            break
    return text + hint


def _type_label(label: str) -> str:
    inner = label[1:-1] if label.startswith("<") and label.endswith(">") else label
    if inner.startswith("list[") and inner.endswith("]"):
        return f"<lijst van {_type_label(inner[5:-1]).strip('<>')}>"
    if inner.endswith(" range"):
        return f"<{_TYPES.get(inner[:-6], inner[:-6])} in bereik>"
    return f"<{_TYPES.get(inner, inner)}>"


def install() -> None:
    """Patch Typer's frame into Dutch (idempotent; cheap: no imports beyond Typer)."""
    global _INSTALLED
    if _INSTALLED:
        return
    import typer.core as tcore
    from typer._click import core as ccore
    from typer._click import exceptions as cexc
    from typer._click import formatting as cfmt
    from typer._click.utils import echo

    tcore.HAS_RICH = False  # plain Click layout (Dutch below), no rich import for --help

    def gettext(message: str) -> str:
        return _WORDS.get(message, message)

    tcore._ = gettext

    original_display_type: Callable[..., str] = tcore._TyperParameter.display_type

    def display_type(self: Any, ctx: Any) -> str:
        return _type_label(original_display_type(self, ctx))

    tcore._TyperParameter.display_type = display_type  # type: ignore[method-assign]

    original_write_usage = cfmt.HelpFormatter.write_usage

    def write_usage(self: Any, prog: str, args: str = "", prefix: str | None = None) -> None:
        for english, dutch in _USAGE_WORDS:
            args = args.replace(english, dutch)
        original_write_usage(self, prog, args, USAGE if prefix is None else prefix)

    cfmt.HelpFormatter.write_usage = write_usage  # type: ignore[method-assign]

    original_heading = cfmt.HelpFormatter.write_heading

    def write_heading(self: Any, heading: str) -> None:
        original_heading(self, _WORDS.get(heading, heading))

    cfmt.HelpFormatter.write_heading = write_heading  # type: ignore[method-assign]

    original_help_option = ccore.Command.get_help_option

    def get_help_option(self: Any, ctx: Any) -> Any:
        option = original_help_option(self, ctx)
        if option is not None:
            option.help = HELP_OPTION
        return option

    ccore.Command.get_help_option = get_help_option  # type: ignore[method-assign]

    def click_show(self: Any, file: Any = None) -> None:
        echo(f"Fout: {message(self.format_message())}", file=file or cexc.get_text_stderr(),
             color=self.show_color)

    def usage_show(self: Any, file: Any = None) -> None:
        file = file or cexc.get_text_stderr()
        color = None
        if self.ctx is not None:
            color = self.ctx.color
            hint = ""
            if self.ctx.command.get_help_option(self.ctx) is not None:
                hint = (f"Hulp: '{self.ctx.command_path} {self.ctx.help_option_names[0]}'.\n")
            echo(f"{self.ctx.get_usage()}\n{hint}", file=file, color=color)
        echo(f"Fout: {message(self.format_message())}", file=file, color=color)

    cexc.ClickException.show = click_show  # type: ignore[method-assign]
    cexc.UsageError.show = usage_show  # type: ignore[method-assign]
    _INSTALLED = True
