"""The one parse of the public C headers (include/blocksparse/*.h) that every generated binding,
the API index and the ABI export check are derived from.

The headers follow DESIGN.md section 4 (C99, BS_API functions, typedef'd enums and params structs,
opaque handles), so a small tokenizer is enough; anything it does not recognise is an error naming
the file and line, never a silent omission. What it records:

- functions (`BS_API ret name(params);`): return type, parameters (type, name, array sizes),
  the Doxygen brief, BS_DEPRECATED message, and whether they sit in an experimental section;
- enums (`typedef enum tag {...} name;`): members with values and docs (the `*_FORCE_INT32`
  sentinel is marked, it is no value of the API);
- params structs (`typedef struct tag {...} name;`): fields in order with types and docs;
- opaque handles (`typedef [const] struct tag* name;`) and other typedefs (`bs_stream_t`);
- `#define NAME <integer | {integers} | "string">` constants (function-like macros are skipped);
- experimental sections: `#ifdef BLOCKSPARSE_EXPERIMENTAL` / `#if defined(BLOCKSPARSE_EXPERIMENTAL)`
  ... `#endif` (an `#else` branch is the non-experimental one).
"""
from __future__ import annotations

import dataclasses
import pathlib
import re

EXPERIMENTAL_MACRO = "BLOCKSPARSE_EXPERIMENTAL"

# Fixed-width and builtin C types the bindings know how to map.
BUILTIN_TYPES = frozenset({
    "void", "char", "float", "double", "int", "size_t",
    "int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t", "uint32_t", "int64_t", "uint64_t",
})

# Macros of bs_platform.h that are not declarations.
_DECL_MACROS = frozenset({"BS_BEGIN_DECLS", "BS_END_DECLS"})


class ParseError(Exception):
    """A construct the parser does not know, at file:line."""


@dataclasses.dataclass(frozen=True)
class CType:
    """A C type as written: `base` (a builtin or a typedef name, or `struct tag`), `const` (the
    base is const), `ptrs` (one entry per `*`, innermost first: True where that pointer itself is
    const) and `array` (the sizes of a declarator `name[N]`; a parameter array decays to a pointer)."""

    base: str
    const: bool = False
    ptrs: tuple = ()
    array: tuple = ()

    def decayed(self) -> "CType":
        """The type as a parameter has it: an array `T name[N]` is a pointer `T*`."""
        if not self.array:
            return self
        if len(self.array) > 1:
            raise ParseError(f"multi-dimensional array parameter {self.spelling()} is not supported")
        return CType(self.base, self.const, self.ptrs + (False,))

    def spelling(self) -> str:
        """The C spelling without the declarator name (`const void* const*`, `int64_t[3]`)."""
        text = ("const " if self.const else "") + self.base
        for is_const in self.ptrs:
            text += "*" + (" const" if is_const else "")
        return text + "".join(f"[{n}]" for n in self.array)

    def pointee_const(self, level: int) -> bool:
        """Whether what pointer `level` (0 = the outermost) points to is const."""
        inner = len(self.ptrs) - 2 - level  # index of the pointer that level points to
        return self.ptrs[inner] if inner >= 0 else self.const


@dataclasses.dataclass(frozen=True)
class Param:
    name: str
    type: CType


@dataclasses.dataclass(frozen=True)
class Function:
    name: str
    header: str
    line: int
    returns: CType
    params: tuple
    brief: str
    experimental: bool = False
    deprecated: str | None = None


@dataclasses.dataclass(frozen=True)
class EnumMember:
    name: str
    value: int
    doc: str
    sentinel: bool  # the *_FORCE_INT32 member that keeps the enum 32 bits wide; no value of the API


@dataclasses.dataclass(frozen=True)
class Enum:
    name: str  # the typedef name (bs_status_t)
    tag: str
    header: str
    brief: str
    members: tuple
    experimental: bool = False

    @property
    def values(self) -> tuple:
        """The members that are values of the API (sentinel excluded)."""
        return tuple(m for m in self.members if not m.sentinel)


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    type: CType
    doc: str


@dataclasses.dataclass(frozen=True)
class Struct:
    name: str  # the typedef name (bsmm_params_t)
    tag: str
    header: str
    brief: str
    fields: tuple
    experimental: bool = False


@dataclasses.dataclass(frozen=True)
class Handle:
    """An opaque object pointer: `typedef [const] struct tag* name;`."""

    name: str
    tag: str
    const: bool
    header: str
    brief: str
    experimental: bool = False


@dataclasses.dataclass(frozen=True)
class Alias:
    """Any other typedef, e.g. `typedef void* bs_stream_t;`."""

    name: str
    type: CType
    header: str
    brief: str
    experimental: bool = False


@dataclasses.dataclass(frozen=True)
class Define:
    name: str
    value: object  # int, tuple of ints, or str
    header: str
    brief: str
    experimental: bool = False


@dataclasses.dataclass
class Header:
    name: str
    brief: str
    includes: list
    functions: list = dataclasses.field(default_factory=list)
    enums: list = dataclasses.field(default_factory=list)
    structs: list = dataclasses.field(default_factory=list)
    handles: list = dataclasses.field(default_factory=list)
    aliases: list = dataclasses.field(default_factory=list)
    defines: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Api:
    """Every public header, in umbrella order (the #include order of blocksparse.h, then any header
    it does not include, by name)."""

    headers: list

    def _all(self, kind: str) -> list:
        return [item for h in self.headers for item in getattr(h, kind)]

    @property
    def functions(self) -> list:
        return self._all("functions")

    @property
    def enums(self) -> list:
        return self._all("enums")

    @property
    def structs(self) -> list:
        return self._all("structs")

    @property
    def handles(self) -> list:
        return self._all("handles")

    @property
    def aliases(self) -> list:
        return self._all("aliases")

    @property
    def defines(self) -> list:
        return self._all("defines")

    def typedef(self, name: str):
        """The Enum, Struct, Handle or Alias named `name`, or None for a builtin."""
        for kind in ("enums", "structs", "handles", "aliases"):
            for item in self._all(kind):
                if item.name == name:
                    return item
        return None

    def resolve(self, ctype: CType, where: str = "") -> tuple:
        """(kind, target, ptrs) of a parameter, field or return type: kind is "builtin", "enum",
        "struct" or "handle", target the builtin or typedef name (aliases such as bs_stream_t
        expanded), ptrs the pointer levels (innermost first, arrays decayed) above it."""
        t = ctype.decayed()
        base, ptrs = t.base, t.ptrs
        while True:
            item = self.typedef(base)
            if isinstance(item, Alias):
                base, ptrs = item.type.base, item.type.decayed().ptrs + ptrs
                continue
            break
        if isinstance(item, Enum):
            return "enum", base, ptrs
        if isinstance(item, Struct):
            return "struct", base, ptrs
        if isinstance(item, Handle):
            return "handle", base, ptrs
        if base in BUILTIN_TYPES:
            return "builtin", base, ptrs
        raise ParseError(f"{where}: unknown type {base!r} (not a builtin nor a typedef of the headers)")


# --------------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<doc>/\*\*(?!/).*?\*/|///[^\n]*)
  | (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<pp>^[ \t]*\#(?:[^\n\\]|\\.)*(?:\\\n(?:[^\n\\]|\\.)*)*)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<num>0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*)
  | (?P<id>[A-Za-z_]\w*)
  | (?P<punct><<|>>|[{}()\[\];,*=<>|&+\-~])
  | (?P<space>\s+)
""", re.S | re.M | re.X)


@dataclasses.dataclass
class _Tok:
    kind: str
    text: str
    line: int


def _tokens(text: str, path: str) -> list:
    out, pos, line = [], 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ParseError(f"{path}:{line}: cannot read {text[pos:pos + 20]!r}")
        if m.lastgroup not in ("space", "comment"):
            out.append(_Tok(m.lastgroup, m.group(), line))
        line += m.group().count("\n")
        pos = m.end()
    return out


def doc_text(comment: str) -> str:
    """The text of a Doxygen comment without its delimiters and leading asterisks."""
    body = re.sub(r"^/\*\*<?|\*/$|^///<?", "", comment.strip())
    lines = [re.sub(r"^\s*\*? ?", "", ln) for ln in body.splitlines()]
    return "\n".join(lines).strip()


def brief_of(comment: str | None) -> str:
    """The @brief paragraph of a Doxygen comment (else its first paragraph), on one line, with
    Doxygen references (`#NAME`, `@p name`) turned into Markdown code."""
    if not comment:
        return ""
    text = doc_text(comment)
    m = re.search(r"@brief\s+(.*?)(?:\n\s*\n|\n\s*@|\Z)", text, re.S)
    para = m.group(1) if m else re.split(r"\n\s*\n|\n\s*@", text)[0]
    para = " ".join(para.split())
    para = re.sub(r"@[pc]\s+(\w+)", r"`\1`", para)
    return re.sub(r"(?<![\w`])#(\w+)", r"`\1`", para)


# --------------------------------------------------------------------------------------------------
# Preprocessor: experimental sections, constants, includes
# --------------------------------------------------------------------------------------------------

def _int_literal(text: str) -> int | None:
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    m = re.fullmatch(r"(-?)\s*(0[xX][0-9a-fA-F]+|\d+)[uUlL]*", text)
    if not m:
        return None
    return int(m.group(1) + m.group(2), 0)


def _define_value(body: str):
    """An int, a tuple of ints or a str for a constant #define body; None for anything else."""
    body = body.strip()
    if not body:
        return None
    value = _int_literal(body)
    if value is not None:
        return value
    m = re.fullmatch(r"\{([^{}]*)\}", body)
    if m:
        items = [_int_literal(v) for v in m.group(1).split(",") if v.strip()]
        return tuple(items) if items and None not in items else None
    m = re.fullmatch(r'"((?:[^"\\]|\\.)*)"', body)
    return m.group(1) if m else None


class _Conditions:
    """The stack of #if frames: which are experimental sections."""

    def __init__(self, path: str):
        self.path = path
        self.frames = []  # each: "guard", "exp", "noexp" or "other"

    def directive(self, tok: _Tok, first_ifndef: bool) -> None:
        m = re.match(r"\s*#\s*(\w+)\s*(.*)", tok.text, re.S)
        word, rest = m.group(1), " ".join(m.group(2).split())
        if word in ("if", "ifdef", "ifndef"):
            exp_if = (word == "ifdef" and rest == EXPERIMENTAL_MACRO) or \
                     (word == "if" and rest in (f"defined({EXPERIMENTAL_MACRO})", f"defined {EXPERIMENTAL_MACRO}",
                                                EXPERIMENTAL_MACRO))
            exp_ifnot = (word == "ifndef" and rest == EXPERIMENTAL_MACRO) or \
                        (word == "if" and rest in (f"!defined({EXPERIMENTAL_MACRO})", f"!defined {EXPERIMENTAL_MACRO}"))
            if exp_if:
                self.frames.append("exp")
            elif exp_ifnot:
                self.frames.append("noexp")
            elif word == "ifndef" and first_ifndef:
                self.frames.append("guard")
            else:
                self.frames.append("other")
        elif word in ("else", "elif"):
            if not self.frames:
                raise ParseError(f"{self.path}:{tok.line}: #{word} without #if")
            top = self.frames[-1]
            if word == "elif" and top in ("exp", "noexp"):
                raise ParseError(f"{self.path}:{tok.line}: #elif in an experimental section is not supported")
            self.frames[-1] = {"exp": "noexp", "noexp": "exp"}.get(top, top)
        elif word == "endif":
            if not self.frames:
                raise ParseError(f"{self.path}:{tok.line}: #endif without #if")
            self.frames.pop()

    @property
    def experimental(self) -> bool:
        return "exp" in self.frames

    @property
    def conditional(self) -> bool:
        """Inside an #if that is neither the include guard nor an experimental section."""
        return "other" in self.frames


# --------------------------------------------------------------------------------------------------
# Declarations
# --------------------------------------------------------------------------------------------------

def _parse_type(toks: list, where: str) -> tuple:
    """(CType, name) of a declaration `type name [N]...` given as tokens; name None when absent."""
    toks = list(toks)
    array = []
    while toks and toks[-1].text == "]":
        if len(toks) < 3 or toks[-3].text != "[" or toks[-2].kind != "num":
            raise ParseError(f"{where}: unsupported array declarator")
        array.insert(0, int(toks[-2].text.rstrip("uUlL"), 0))
        del toks[-3:]
    name = None
    if toks and toks[-1].kind == "id" and toks[-1].text not in ("const", "void") and \
            any(t.kind == "id" and t.text != "const" for t in toks[:-1]):
        name = toks.pop().text
    base_words, const, ptrs = [], False, []
    for t in toks:
        if t.text == "const":
            if ptrs:
                ptrs[-1] = True
            else:
                const = True
        elif t.text == "*":
            ptrs.append(False)
        elif t.kind == "id" and not ptrs:
            base_words.append(t.text)
        else:
            raise ParseError(f"{where}: unsupported type token {t.text!r}")
    if not base_words:
        raise ParseError(f"{where}: declaration without a type")
    return CType(" ".join(base_words), const, tuple(ptrs), tuple(array)), name


def _split(toks: list, sep: str) -> list:
    """Splits tokens on `sep` at parenthesis/brace depth 0 (doc tokens stay with the part they follow)."""
    parts, cur, depth = [], [], 0
    for t in toks:
        if t.text in "({[":
            depth += 1
        elif t.text in ")}]":
            depth -= 1
        if t.text == sep and depth == 0:
            parts.append(cur)
            cur = []
        else:
            cur.append(t)
    parts.append(cur)
    return parts


def _eval_enum_value(toks: list, known: dict, where: str) -> int:
    expr = " ".join(t.text for t in toks)
    if not re.fullmatch(r"[\w\s()+\-*|&<>~]+", expr):
        raise ParseError(f"{where}: unsupported enum value {expr!r}")
    names = {n: v for n, v in known.items()}
    expr = re.sub(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b", r"\1", expr)
    try:
        return int(eval(expr, {"__builtins__": {}}, names))  # noqa: S307 - tokens checked above
    except Exception as e:  # noqa: BLE001
        raise ParseError(f"{where}: cannot evaluate enum value {expr!r}: {e}") from None


def _members(body: list, where: str, enum: bool) -> list:
    """(tokens, doc) per member of an enum (split on ',') or struct (split on ';'); a trailing
    `/**< */` doc belongs to the member before it, a leading `/** */` one to the member after it."""
    out, cur, doc = [], [], None
    pending_lead = None
    sep = "," if enum else ";"
    for t in body + [_Tok("punct", sep, body[-1].line if body else 0)]:
        if t.kind == "doc":
            if t.text.startswith(("/**<", "///<")):
                if cur:
                    doc = t.text
                elif out:
                    out[-1] = (out[-1][0], t.text)
            else:
                pending_lead = t.text
            continue
        if t.text == sep:
            if cur:
                out.append((cur, doc or pending_lead))
                pending_lead = None
            cur, doc = [], None
        else:
            cur.append(t)
    return out


class _HeaderParser:
    def __init__(self, path: pathlib.Path):
        self.path = path
        self.name = path.name
        text = path.read_text()
        self.toks = _tokens(text, str(path))
        self.header = Header(name=self.name, brief="", includes=[])

    def where(self, tok) -> str:
        return f"{self.path}:{tok.line}"

    def parse(self) -> Header:
        cond = _Conditions(str(self.path))
        stmt, doc, last_doc, first_ifndef = [], None, None, True
        for tok in self.toks:
            if tok.kind == "pp":
                directive = tok.text.strip()
                if re.match(r"#\s*(if|ifdef|ifndef|else|elif|endif)\b", directive):
                    if stmt:
                        raise ParseError(f"{self.where(tok)}: preprocessor conditional inside a declaration")
                    cond.directive(tok, first_ifndef and directive.startswith("#ifndef"))
                    first_ifndef = False
                elif directive.startswith("#") and re.match(r"#\s*include\b", directive):
                    m = re.search(r"[<\"]blocksparse/([\w.]+)[>\"]", directive)
                    if m:
                        self.header.includes.append(m.group(1))
                elif re.match(r"#\s*define\b", directive):
                    self.define(tok, last_doc, cond)
                last_doc = None
                continue
            if tok.kind == "doc":
                if not stmt:
                    if "@file" in tok.text:
                        self.header.brief = brief_of(tok.text)
                    else:
                        last_doc = tok.text
                        doc = tok.text
                else:
                    stmt.append(tok)
                continue
            if not stmt and tok.text in _DECL_MACROS:
                continue
            stmt.append(tok)
            if tok.text == "}" and self.depth(stmt) == 0 and stmt[0].text not in ("typedef", "struct", "enum"):
                raise ParseError(f"{self.where(stmt[0])}: unsupported function body in a public header "
                                 f"(an inline function is no symbol of the library: no binding can reach it)")
            if tok.text == ";" and self.depth(stmt) == 0:
                if cond.conditional:
                    raise ParseError(f"{self.where(stmt[0])}: declaration inside an #if that is not "
                                     f"{EXPERIMENTAL_MACRO}: the bindings cannot know when it exists")
                self.statement(stmt[:-1], doc, cond.experimental)
                stmt, doc, last_doc = [], None, None
        if stmt:
            raise ParseError(f"{self.where(stmt[0])}: unterminated declaration")
        if cond.frames:
            raise ParseError(f"{self.path}: unterminated #if")
        return self.header

    @staticmethod
    def depth(toks: list) -> int:
        return sum(t.text == "{" for t in toks) - sum(t.text == "}" for t in toks)

    def define(self, tok: _Tok, doc: str | None, cond: _Conditions) -> None:
        m = re.match(r"\s*#\s*define\s+(\w+)(\(?)(.*)", tok.text, re.S)
        name, paren, body = m.group(1), m.group(2), m.group(3).replace("\\\n", " ")
        if paren or cond.conditional:
            return  # function-like macro, or a platform-dependent definition (BS_API, BS_DEPRECATED)
        value = _define_value(body)
        if value is not None:
            self.header.defines.append(Define(name, value, self.name, brief_of(doc), cond.experimental))

    def statement(self, toks: list, doc: str | None, experimental: bool) -> None:
        where = self.where(toks[0])
        if toks[0].text != "typedef":  # member docs matter only in enum and struct bodies
            toks = [t for t in toks if t.kind != "doc"]
        words = [t.text for t in toks]
        if words[0] == "typedef" and len(words) > 2 and words[1] == "enum":
            self.enum(toks, doc, experimental, where)
        elif words[0] == "typedef" and "{" in words and words[1] == "struct":
            self.struct(toks, doc, experimental, where)
        elif words[0] == "typedef":
            body = [t for t in toks[1:] if t.kind != "doc"]
            ctype, name = _parse_type(body, where)
            if name is None:
                raise ParseError(f"{where}: typedef without a name")
            if ctype.base.startswith("struct ") and len(ctype.ptrs) == 1 and not ctype.ptrs[0]:
                self.header.handles.append(Handle(name, ctype.base.split()[1], ctype.const, self.name,
                                                  brief_of(doc), experimental))
            else:
                self.header.aliases.append(Alias(name, ctype, self.name, brief_of(doc), experimental))
        elif "BS_API" in words:
            self.function(toks, doc, experimental, where)
        elif words[0] == "struct" and len(words) == 2:
            pass  # forward declaration
        else:
            raise ParseError(f"{where}: unsupported declaration {' '.join(words)[:80]!r} "
                             f"(extend scripts/apigen/cheader.py)")

    def enum(self, toks, doc, experimental, where) -> None:
        words = [t.text for t in toks]
        lb, rb = words.index("{"), len(words) - 1 - words[::-1].index("}")
        tag = words[2] if lb == 3 else ""
        name = words[rb + 1] if rb + 1 < len(words) else None
        if name is None or rb + 2 != len(words):
            raise ParseError(f"{where}: enum typedef must end with one name")
        members, known, value = [], {}, -1
        for mtoks, mdoc in _members(toks[lb + 1:rb], where, enum=True):
            mname = mtoks[0].text
            value = _eval_enum_value(mtoks[2:], known, where) if len(mtoks) > 1 else value + 1
            if len(mtoks) > 1 and mtoks[1].text != "=":
                raise ParseError(f"{where}: bad enum member {mname}")
            known[mname] = value
            sentinel = mname.endswith("_FORCE_INT32")
            members.append(EnumMember(mname, value, brief_of(mdoc), sentinel))
        self.header.enums.append(Enum(name, tag, self.name, brief_of(doc), tuple(members), experimental))

    def struct(self, toks, doc, experimental, where) -> None:
        words = [t.text for t in toks]
        lb, rb = words.index("{"), len(words) - 1 - words[::-1].index("}")
        tag = words[2] if lb == 3 else ""
        name = words[rb + 1] if rb + 2 == len(words) else None
        if name is None:
            raise ParseError(f"{where}: struct typedef must end with one name")
        fields = []
        for ftoks, fdoc in _members(toks[lb + 1:rb], where, enum=False):
            if any(t.text in "{}(" for t in ftoks):
                raise ParseError(f"{where}: nested struct, union or function pointer field in {name}")
            ctype, fname = _parse_type(ftoks, where)
            if fname is None:
                raise ParseError(f"{where}: unnamed field in {name}")
            fields.append(Field(fname, ctype, brief_of(fdoc)))
        self.header.structs.append(Struct(name, tag, self.name, brief_of(doc), tuple(fields), experimental))

    def function(self, toks, doc, experimental, where) -> None:
        deprecated = None
        rest = []
        i = 0
        while i < len(toks):
            t = toks[i]
            if t.text == "BS_API":
                i += 1
                continue
            if t.text == "BS_DEPRECATED":
                close = next(j for j in range(i, len(toks)) if toks[j].text == ")")
                deprecated = " ".join(x.text.strip('"') for x in toks[i + 2:close] if x.kind == "str")
                i = close + 1
                continue
            rest.append(t)
            i += 1
        words = [t.text for t in rest]
        if "(" not in words or words[-1] != ")":
            raise ParseError(f"{where}: BS_API declaration is not a function prototype")
        lp = words.index("(")
        name = words[lp - 1]
        returns, _ = _parse_type(rest[:lp - 1], where)
        params = []
        inner = rest[lp + 1:-1]
        if [t.text for t in inner] != ["void"]:
            for ptoks in _split(inner, ","):
                ctype, pname = _parse_type(ptoks, where)
                if pname is None:
                    raise ParseError(f"{where}: unnamed parameter of {name}")
                params.append(Param(pname, ctype))
        self.header.functions.append(Function(name, self.name, toks[0].line, returns, tuple(params),
                                              brief_of(doc), experimental, deprecated))


def parse_header(path) -> Header:
    return _HeaderParser(pathlib.Path(path)).parse()


def parse(header_dir) -> Api:
    """Parses every include/blocksparse/*.h of `header_dir` (generated *.h.in templates excluded)."""
    header_dir = pathlib.Path(header_dir)
    headers = {p.name: parse_header(p) for p in sorted(header_dir.glob("*.h"))}
    umbrella = headers.get("blocksparse.h")
    order = [h for h in (umbrella.includes if umbrella else []) if h in headers]
    order += sorted(h for h in headers if h not in order)
    api = Api([headers[h] for h in order])
    _check_unique(api)
    return api


def _check_unique(api: Api) -> None:
    seen = {}
    for kind in ("functions", "enums", "structs", "handles", "aliases", "defines"):
        for item in getattr(api, kind):
            if item.name in seen and seen[item.name] != item.header:
                raise ParseError(f"{item.name} is declared in {seen[item.name]} and {item.header}")
            seen[item.name] = item.header
