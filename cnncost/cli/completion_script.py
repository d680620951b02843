"""`cnncost completion bash|zsh|fish`: a completion script generated from the command line's own
parser (subcommands, each one's options and their choices) and from the registry (built-in
architecture names, completed wherever a NAME goes, along with file names). No dependency: the
script is plain shell, written once when the command runs, so completing costs no Python start.

    eval "$(cnncost completion bash)"        # ~/.bashrc
    eval "$(cnncost completion zsh)"         # ~/.zshrc (after compinit)
    cnncost completion fish > ~/.config/fish/completions/cnncost.fish

Regenerate it after an upgrade that adds commands or architectures.
"""
from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field

__all__ = ["script", "SHELLS", "commands_of"]

SHELLS = ("bash", "zsh", "fish")
ARCH_DESTS = ("arch", "archs", "pattern")  # positionals that take a built-in name (or a file)
FILE_DESTS = ("source", "output")          # positionals and options that take a file
FILE_OPTIONS = ("-o", "--out", "--output", "--hardware")  # options whose value is a file
_SAFE = re.compile(r"^[A-Za-z0-9_.:+@%/=,-]+$")


@dataclass
class Command:
    """What completion needs of one subcommand."""

    name: str
    help: str = ""
    options: list[str] = field(default_factory=list)          # every option string, --format and -o
    takes_value: dict[str, list[str]] = field(default_factory=dict)  # option -> its choices ([] = free value)
    option_help: dict[str, str] = field(default_factory=dict)
    positional: str = ""                                       # "arch", "file", "choice" or ""
    choices: list[str] = field(default_factory=list)          # the positional's choices


def commands_of(parser: argparse.ArgumentParser) -> list[Command]:
    """The subcommands of cnncost's parser, in the order `--help` lists them."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help or "" for choice in sub._choices_actions}
    out = []
    for name, child in sub.choices.items():
        command = Command(name, helps.get(name, ""))
        for action in child._actions:
            if isinstance(action, argparse._HelpAction):
                command.options += list(action.option_strings)
                continue
            if action.help == argparse.SUPPRESS:
                continue
            if action.option_strings:
                command.options += list(action.option_strings)
                for option in action.option_strings:
                    command.option_help[option] = _first_sentence(action.help or "")
                    if action.nargs != 0:
                        command.takes_value[option] = [str(c) for c in action.choices or ()]
            elif action.choices:
                command.positional, command.choices = "choice", [str(c) for c in action.choices]
            elif action.dest in ARCH_DESTS:
                command.positional = "arch"
            elif action.dest in FILE_DESTS:
                command.positional = "file"
        out.append(command)
    return out


def _first_sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text.replace("%%", "%")).strip()
    return re.split(r"(?<!e\.g)(?<!i\.e)\. ", text.split("; ")[0])[0][:80]


def _words(values: list[str]) -> str:
    """Words for a shell list; anything with a character a shell would read is left out."""
    return " ".join(v for v in values if _SAFE.match(v))


def _arch_names() -> list[str]:
    from ..zoo.registry import list_archs
    return [a.name for a in list_archs("*")]


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    """The completion script for `shell` (bash, zsh or fish)."""
    if shell not in SHELLS:
        from ..errors import CnnCostError
        raise CnnCostError(f"no completion for shell '{shell}'; allowed: {', '.join(SHELLS)}")
    commands = commands_of(parser)
    archs = _arch_names()
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](commands, archs, parser.prog)


def _value_cases(commands: list[Command], pattern: str, choices_body: str, file_body: str, free_body: str) -> list[str]:
    """One `case` branch per (command, option taking a value): its choices, a file, or nothing."""
    lines = []
    for command in commands:
        for option, choices in command.takes_value.items():
            words = _words(choices)
            body = choices_body if words else file_body if option in FILE_OPTIONS else free_body
            lines.append(pattern.format(cmd=command.name, opt=option) + body.format(words=_quote(words), raw=words))
    return lines


def _bash(commands: list[Command], archs: list[str], prog: str) -> str:
    option_cases = "\n".join(f"        {c.name}) opts={_quote(_words(c.options))} ;;" for c in commands)
    positional_cases = "\n".join(f"        {c.name}) kind={c.positional or 'none'}; words={_quote(_words(c.choices))} ;;"
                                 for c in commands)
    value_cases = "\n".join(_value_cases(
        commands, "        {cmd}:{opt})", " COMPREPLY=( $(compgen -W {words} -- \"$cur\") ); return 0 ;;",
        " COMPREPLY=( $(compgen -f -- \"$cur\") ); return 0 ;;", " COMPREPLY=(); return 0 ;;"))
    return f"""# bash completion for {prog} (generated by `{prog} completion bash`)
_{prog}() {{
    local cur prev cmd i opts kind words
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev=""
    (( COMP_CWORD > 0 )) && prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    local commands={_quote(_words([c.name for c in commands]))}
    local archs={_quote(_words(archs))}
    cmd=""
    for (( i=1; i < COMP_CWORD; i++ )); do
        case "${{COMP_WORDS[i]}}" in
            -*) ;;
            *) cmd="${{COMP_WORDS[i]}}"; break ;;
        esac
    done
    if [[ -z "$cmd" ]]; then
        COMPREPLY=( $(compgen -W "$commands --help --version" -- "$cur") )
        return 0
    fi
    case "$cmd:$prev" in
{value_cases}
    esac
    if [[ "$cur" == -* ]]; then
        opts=""
        case "$cmd" in
{option_cases}
        esac
        COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
        return 0
    fi
    kind=none; words=""
    case "$cmd" in
{positional_cases}
    esac
    case "$kind" in
        arch) COMPREPLY=( $(compgen -W "$archs" -- "$cur") $(compgen -f -- "$cur") ) ;;
        file) COMPREPLY=( $(compgen -f -- "$cur") ) ;;
        choice) COMPREPLY=( $(compgen -W "$words" -- "$cur") ) ;;
    esac
    return 0
}}
complete -o default -F _{prog} {prog}
"""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "") + "'"


def _zsh(commands: list[Command], archs: list[str], prog: str) -> str:
    described = "\n".join(f"        {_quote(c.name + ':' + _zsh_text(c.help))}" for c in commands)
    option_cases = "\n".join(f"        {c.name}) opts=({_words(c.options)}) ;;" for c in commands)
    positional_cases = "\n".join(f"        {c.name}) kind={c.positional or 'none'}; words=({_words(c.choices)}) ;;"
                                 for c in commands)
    value_cases = "\n".join(_value_cases(
        commands, "        {cmd}:{opt})", " compadd -- {raw}; return ;;", " _files; return ;;",
        " _message 'value'; return ;;"))
    return f"""#compdef {prog}
# zsh completion for {prog} (generated by `{prog} completion zsh`)
_{prog}() {{
    local cmd prev i kind
    local -a opts archs commands
    archs=({_words(archs)})
    commands=(
{described}
    )
    cmd=""
    for (( i=2; i < CURRENT; i++ )); do
        if [[ "${{words[i]}}" != -* ]]; then cmd="${{words[i]}}"; break; fi
    done
    if [[ -z "$cmd" ]]; then
        _describe -t commands '{prog} command' commands
        return
    fi
    prev="${{words[CURRENT-1]}}"
    case "$cmd:$prev" in
{value_cases}
    esac
    if [[ "${{words[CURRENT]}}" == -* ]]; then
        opts=()
        case "$cmd" in
{option_cases}
        esac
        compadd -- $opts
        return
    fi
    kind=none
    local -a choices
    case "$cmd" in
{positional_cases.replace("words=(", "choices=(")}
    esac
    case "$kind" in
        arch) compadd -- $archs; _files ;;
        file) _files ;;
        choice) compadd -- $choices ;;
    esac
}}
if [[ "$funcstack[1]" == "_{prog}" ]]; then
    _{prog} "$@"
else
    compdef _{prog} {prog}
fi
"""


def _zsh_text(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9 ,.()/+-]", "", text)[:70]


def _fish(commands: list[Command], archs: list[str], prog: str) -> str:
    lines = [f"# fish completion for {prog} (generated by `{prog} completion fish`)",
             f"complete -c {prog} -f",
             f"complete -c {prog} -n '__fish_use_subcommand' -l version -d 'print the version'"]
    for command in commands:
        lines.append(f"complete -c {prog} -n '__fish_use_subcommand' -a {command.name} "
                     f"-d {_quote(_zsh_text(command.help))}")
    for command in commands:
        seen = f"__fish_seen_subcommand_from {command.name}"
        for option in command.options:
            if not _SAFE.match(option):
                continue
            flag = f"-l {option[2:]}" if option.startswith("--") else f"-s {option[1:]}"
            choices = command.takes_value.get(option)
            value = ""
            if choices:
                value = f" -xa {_quote(_words(choices))}"
            elif choices is not None:
                value = " -r" + (" -F" if option in FILE_OPTIONS else "")
            help_text = command.option_help.get(option, "")
            lines.append(f"complete -c {prog} -n '{seen}' {flag}{value}"
                         + (f" -d {_quote(_zsh_text(help_text))}" if help_text else ""))
        if command.positional == "arch":
            lines.append(f"complete -c {prog} -n '{seen}' -F -a {_quote(_words(archs))}")
        elif command.positional == "file":
            lines.append(f"complete -c {prog} -n '{seen}' -F")
        elif command.positional == "choice":
            lines.append(f"complete -c {prog} -n '{seen}' -a {_quote(_words(command.choices))}")
    return "\n".join(lines) + "\n"
