#!/usr/bin/env python3
"""Tests of the header parser (CTest bindings_header_parser): synthetic headers for each construct
it reads or must refuse, the experimental section end to end through every emitter, and, where
Debian's `bindgen` is installed, a cross-check of the generated Rust declarations against
bindgen's own (libclang) parse of the real headers."""
from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from apigen import cheader, coverage, emit_docs, emit_go, emit_julia, emit_python, emit_rust  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADERS = ROOT / "include" / "blocksparse"

TYPES_H = """
#ifndef BLOCKSPARSE_BS_TYPES_H
#define BLOCKSPARSE_BS_TYPES_H
#include <stdint.h>
BS_BEGIN_DECLS
/** @brief Status. */
typedef enum bs_status {
  BS_STATUS_SUCCESS = 0, /**< ok */
  BS_STATUS_NULL_POINTER = 1, /**< null */
  BS_STATUS_FORCE_INT32 = 0x7fffffff /**< sentinel */
} bs_status_t;
typedef void* bs_stream_t;
BS_END_DECLS
#endif
"""

TOY_H = """
/**
 * @file bst_toy.h
 * @brief A toy family.
 */
#ifndef BLOCKSPARSE_BST_TOY_H
#define BLOCKSPARSE_BST_TOY_H
#include <blocksparse/bs_types.h>
BS_BEGIN_DECLS
/** @brief Most heads. */
#define BST_MAX_HEADS 0x40
/** @brief Opaque. */
typedef struct bst_plan_s* bst_plan_t;
typedef const struct bst_plan_s* const_bst_plan_t;
/** @brief Modes. */
typedef enum bst_mode {
  BST_MODE_A = 3,
  BST_MODE_B,            /**< implicit: 4 */
  BST_MODE_C = (1 << 3) | BST_MODE_A,
  BST_MODE_FORCE_INT32 = 0x7fffffff
} bst_mode_t;
/** @brief Stable function.
 *  @param[in] counter four words. */
BS_API bs_status_t bst_stable(const uint32_t counter[4], const void* const* xs, void* const* ys,
                              bst_plan_t* plan, bs_stream_t stream);
/** @brief Old function. */
BS_API BS_DEPRECATED("use bst_stable") bs_status_t bst_old(void);
#ifdef BLOCKSPARSE_EXPERIMENTAL
/** @brief Params of the new thing. */
typedef struct bst_params {
  uint32_t struct_size; /**< size */
  float scale[2];       /**< two scales */
  int64_t heads;        /**< heads */
} bst_params_t;
BS_API bs_status_t bst_params_init(bst_params_t* params, size_t struct_size);
/** @brief Fresh function. */
BS_API bs_status_t bst_fresh(const_bst_plan_t plan, int64_t in, float alpha);
#else
BS_API bs_status_t bst_fallback(void);
#endif
#if defined(BLOCKSPARSE_EXPERIMENTAL)
BS_API bs_status_t bst_fresh2(void);
#endif
BS_END_DECLS
#endif
"""


def parse_text(files: dict) -> cheader.Api:
    with tempfile.TemporaryDirectory() as d:
        for name, text in files.items():
            (pathlib.Path(d) / name).write_text(text)
        return cheader.parse(d)


class RealHeaders(unittest.TestCase):
    def test_every_function_and_emitter(self):
        api = cheader.parse(HEADERS)
        self.assertGreaterEqual(len(api.functions), 63)
        for f in api.functions:
            self.assertTrue(f.brief, f"{f.name} has no @brief")
            for p in f.params:
                api.resolve(p.type, f.name)  # every type is known
        for module in (emit_python, emit_rust, emit_julia, emit_docs):
            self.assertIn("bsmm_fprop", module.emit(api))
        self.assertIn("StatusShapeMismatch Status = 3 // BS_STATUS_SHAPE_MISMATCH", emit_go.emit(api))

    def test_umbrella_includes_every_header(self):
        # The bindings include blocksparse.h only (cgo, bindgen's cross-check, the C tests): a header
        # it does not include would be generated into the Python/Rust/Julia layers but be missing
        # from Go and from C users of the umbrella.
        api = cheader.parse(HEADERS)
        umbrella = next(h for h in api.headers if h.name == "blocksparse.h")
        missing = {h.name for h in api.headers} - set(umbrella.includes) - {"blocksparse.h"}
        self.assertFalse(missing, f"include/blocksparse/blocksparse.h does not include {sorted(missing)}")

    def test_python_module_is_valid_and_complete(self):
        api = cheader.parse(HEADERS)
        scope = {}
        exec(compile(emit_python.emit(api), "_ffi.py", "exec"), scope)  # noqa: S102 - our own output
        self.assertEqual(set(scope["PROTOTYPES"]), {f.name for f in api.functions})
        self.assertEqual(scope["BS_STATUS_SHAPE_MISMATCH"], 3)
        self.assertEqual(scope["BSMM_BLOCK_SIZES"], (8, 16, 32, 64, 128))
        self.assertNotIn("BS_STATUS_FORCE_INT32", scope["ENUMS"]["bs_status_t"])
        self.assertEqual([n for n, _ in scope["bsmm_params_t"]._fields_][:2], ["struct_size", "backend"])


class Constructs(unittest.TestCase):
    def setUp(self):
        self.api = parse_text({"bs_types.h": TYPES_H, "bst_toy.h": TOY_H})
        self.fn = {f.name: f for f in self.api.functions}

    def test_types_and_params(self):
        f = self.fn["bst_stable"]
        self.assertEqual([p.name for p in f.params], ["counter", "xs", "ys", "plan", "stream"])
        self.assertEqual(f.params[0].type.array, (4,))
        self.assertEqual(f.params[1].type.spelling(), "const void* const*")
        self.assertEqual(emit_rust.rust_type(f.params[0].type), "*const u32")
        self.assertEqual(emit_rust.rust_type(f.params[1].type), "*const *const c_void")
        self.assertEqual(emit_rust.rust_type(f.params[2].type), "*const *mut c_void")
        self.assertEqual(emit_rust.rust_type(f.params[3].type), "*mut bst_plan_t")
        self.assertEqual(self.api.resolve(f.params[4].type), ("builtin", "void", (False,)))
        self.assertEqual(f.brief, "Stable function.")

    def test_enums_defines_handles(self):
        mode = next(e for e in self.api.enums if e.name == "bst_mode_t")
        self.assertEqual([(m.name, m.value) for m in mode.values], [("BST_MODE_A", 3), ("BST_MODE_B", 4),
                                                                    ("BST_MODE_C", 11)])
        self.assertEqual(mode.members[1].doc, "implicit: 4")
        self.assertTrue(mode.members[-1].sentinel)
        self.assertEqual([(d.name, d.value) for d in self.api.defines], [("BST_MAX_HEADS", 64)])
        self.assertEqual([(h.name, h.const) for h in self.api.handles], [("bst_plan_t", False),
                                                                         ("const_bst_plan_t", True)])

    def test_deprecated(self):
        self.assertEqual(self.fn["bst_old"].deprecated, "use bst_stable")
        self.assertIn('#[deprecated(note = "use bst_stable")]', emit_rust.emit(self.api))

    def test_experimental_section(self):
        exp = {n for n, f in self.fn.items() if f.experimental}
        self.assertEqual(exp, {"bst_params_init", "bst_fresh", "bst_fresh2"})
        self.assertFalse(self.fn["bst_fallback"].experimental)
        params = next(s for s in self.api.structs if s.name == "bst_params_t")
        self.assertTrue(params.experimental)
        self.assertEqual([(f.name, f.type.array) for f in params.fields],
                         [("struct_size", ()), ("scale", (2,)), ("heads", ())])
        # Python binds them all and names them; Rust gates them; Julia and the docs mark them.
        scope = {}
        exec(compile(emit_python.emit(self.api), "_ffi.py", "exec"), scope)  # noqa: S102
        self.assertEqual(scope["EXPERIMENTAL"], exp)
        self.assertIn("bst_fresh", scope["PROTOTYPES"])
        self.assertEqual(scope["bst_params_t"]._fields_[1][0], "scale")
        rust = emit_rust.emit(self.api)
        self.assertRegex(rust, r'#\[cfg\(feature = "experimental"\)\]\n    pub fn bst_fresh\(')
        self.assertRegex(rust, r'#\[cfg\(feature = "experimental"\)\]\n#\[repr\(C\)\]\n#\[derive[^\n]*\]\n'
                               r'pub struct bst_params_t')
        self.assertIn("r#in: i64", rust)
        self.assertIn("pub scale: [f32; 2],", rust)
        julia = emit_julia.emit(self.api)
        self.assertIn("const EXPERIMENTAL = (:bst_params_init, :bst_fresh, :bst_fresh2)", julia)
        self.assertIn("bst_fresh(plan, in_, alpha)", julia)
        self.assertIn("scale::NTuple{2,Float32}", julia)
        self.assertIn("`bst_fresh` *(experimental)*", emit_docs.emit(self.api))
        go = emit_go.emit(self.api)
        self.assertIn("BstMode is bst_mode_t: modes.", go)  # a new family's enum gets default names
        self.assertIn("BstModeC BstMode = 11 // BST_MODE_C", go)
        self.assertIn("const BstMaxHeads = 64", go)

    def test_new_header_is_picked_up(self):
        # A family header dropped into include/blocksparse/ is parsed without any list to update,
        # after the umbrella's own includes, and its experimental section reaches every emitter.
        api = parse_text({"bs_types.h": TYPES_H, "bst_toy.h": TOY_H,
                          "blocksparse.h": "#ifndef U_H\n#define U_H\n#include <blocksparse/bs_types.h>\n#endif\n",
                          "bsconv.h": TOY_H.replace("bst", "bsconv").replace("BST", "BSCONV")})
        self.assertEqual([h.name for h in api.headers], ["bs_types.h", "blocksparse.h", "bsconv.h", "bst_toy.h"])
        exp = {f.name for f in api.functions if f.experimental}
        self.assertIn("bsconv_fresh", exp)
        for module in (emit_python, emit_rust, emit_julia, emit_go, emit_docs):
            self.assertIn("bsconv", module.emit(api), module.__name__)

    def test_refusals_name_the_line(self):
        cases = {
            "typedef void (*bs_callback_t)(int32_t);": "unsupported",
            "static inline int bs_f(void) { return 1; }": "unsupported",
            "#if defined(_WIN32)\nBS_API bs_status_t bs_win(void);\n#endif": "not BLOCKSPARSE_EXPERIMENTAL",
            "BS_API bs_status_t bs_unnamed(int64_t);": "unnamed parameter",
            "BS_API bs_status_t bs_unknown(foo_t x);": "unknown type",
        }
        for decl, message in cases.items():
            with self.subTest(decl=decl):
                text = "#ifndef G_H\n#define G_H\n#include <blocksparse/bs_types.h>\n" + decl + "\n#endif\n"
                with self.assertRaisesRegex(cheader.ParseError, rf"bad\.h:\d+: .*{message}"):
                    api = parse_text({"bs_types.h": TYPES_H, "bad.h": text})
                    for f in api.functions:
                        for p in f.params:
                            api.resolve(p.type, f"bad.h:{f.line}")

    def test_coverage_scan_ignores_comments_and_strings(self):
        with tempfile.TemporaryDirectory() as d:
            root = pathlib.Path(d)
            (root / "bindings/python/blocksparse").mkdir(parents=True)
            (root / "bindings/python/blocksparse/m.py").write_text(
                '"""Calls lib.bst_old."""\n# lib.bst_fresh\nx = "lib.bst_fresh2"\nlib.bst_stable(1)\n')
            for sub in ("rust/blocksparse/src", "go", "julia/src"):
                (root / "bindings" / sub).mkdir(parents=True)
            (root / "bindings/go/a.go").write_text(
                '/*\nstatic int f(void) { return bst_fresh(0, 1, 2); }\n*/\nimport "C"\n// C.bst_old()\n')
            (root / "bindings/rust/blocksparse/src/a.rs").write_text("/// sys::bst_old\nlet f = sys::bst_fallback;")
            (root / "bindings/julia/src/a.jl").write_text('"""L.bst_old"""\nL.bst_params_init(p, 8)\n')
            names = [f.name for f in self.api.functions]
            got = coverage.reached(root, names)
        self.assertEqual(got, {"python": {"bst_stable"}, "go": {"bst_fresh"}, "rust": {"bst_fallback"},
                               "julia": {"bst_params_init"}})


def _bindgen_declarations(text: str) -> tuple:
    """({fn: [(param, type)] + [("->", ret)]}, {struct: [(field, type)]}, {const: value}) of bindgen output."""
    norm = lambda s: " ".join(s.replace("::std::os::raw::", "").split())  # noqa: E731
    fns = {}
    for m in re.finditer(r"pub fn (\w+)\((.*?)\)(?: -> ([^;]+))?;", text, re.S):
        params = [tuple(norm(x) for x in p.split(":", 1)) for p in m.group(2).split(",") if p.strip()]
        fns[m.group(1)] = [(n.rstrip("_"), t) for n, t in params] + [("->", norm(m.group(3) or ""))]
    structs = {m.group(1): [tuple(norm(x) for x in f.split(":", 1)) for f in re.findall(r"pub (\w+: [^,]+),",
                                                                                       m.group(2))]
               for m in re.finditer(r"pub struct (\w+) \{(.*?)\n\}", text, re.S)}
    consts = {m.group(1): int(m.group(2)) for m in re.finditer(r"pub const (\w+): \w+ = (-?\d+);", text)}
    return fns, structs, consts


@unittest.skipUnless(shutil.which("bindgen"), "bindgen not installed (Debian: apt-get install bindgen)")
class BindgenCrossCheck(unittest.TestCase):
    """Our Rust declarations equal bindgen's for every function, struct and enum value."""

    def test_same_declarations_as_bindgen(self):
        gen_include = next((p for p in (ROOT / "build" / "include", ) if (p / "blocksparse").is_dir()), None)
        with tempfile.TemporaryDirectory() as d:
            if gen_include is None:  # bs_version.h is generated by CMake; any version does here
                gen_include = pathlib.Path(d)
                (gen_include / "blocksparse").mkdir()
                (gen_include / "blocksparse/bs_version.h").write_text("#define BS_VERSION_MAJOR 0\n")
            out = subprocess.run(
                ["bindgen", str(HEADERS / "blocksparse.h"), "--allowlist-function", "(bs|bsmm|bsconv|bst|layernorm)_.*",
                 "--allowlist-type", "(const_)?(bs|bsmm|bsconv|bst|layernorm)_.*", "--no-layout-tests",
                 "--default-enum-style", "consts", "--no-prepend-enum-name", "--size_t-is-usize", "--no-doc-comments",
                 "--", f"-I{ROOT / 'include'}", f"-I{gen_include}", "-DBLOCKSPARSE_EXPERIMENTAL"],
                capture_output=True, text=True)
        if out.returncode != 0 and re.search(r"libclang|file not found", out.stderr):
            self.skipTest(f"bindgen cannot run here (needs libclang and its headers: apt-get install "
                          f"libclang-dev): {out.stderr.strip()[:200]}")
        self.assertEqual(out.returncode, 0, out.stderr)
        # bindgen spells array lengths as usize literals ([i32; 3usize]); ours are plain ([i32; 3]).
        out = re.sub(r"; (\d+)usize\]", r"; \1]", out.stdout)
        theirs_fn, theirs_struct, theirs_const = _bindgen_declarations(out)
        api = cheader.parse(HEADERS)
        ours_fn, ours_struct, ours_const = _bindgen_declarations(emit_rust.emit(api).replace("r#", ""))
        self.assertGreaterEqual(len(ours_fn), len(api.functions))
        self.assertEqual(set(ours_fn), set(theirs_fn))
        for name in ours_fn:
            self.assertEqual(ours_fn[name], theirs_fn[name], name)
        for s in api.structs:
            self.assertEqual(ours_struct[s.name], theirs_struct[s.tag], s.name)
        for name, value in ours_const.items():
            if name in theirs_const:
                self.assertEqual(value, theirs_const[name], name)
        enum_values = {m.name for e in api.enums for m in e.values}
        self.assertTrue(enum_values <= set(theirs_const))


if __name__ == "__main__":
    unittest.main(verbosity=2)
