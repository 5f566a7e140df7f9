#!/usr/bin/env python3
"""Checks that conan/conanfile.py agrees with the CMake build (Conan itself is not needed).

  conan_recipe_check.py SOURCE_DIR              exit 0 when they agree, 1 with the reasons
  conan_recipe_check.py SOURCE_DIR --self-test  each of a set of wrong recipes must be refused

Options: every option() of the top CMakeLists.txt that selects what is built (all but
KBUS_BUILD_* and KBUS_SANITIZE) is a recipe option named without the KBUS_ prefix in lower case
(KBUS_WITH_KDBUS -> with_kdbus), with the same default (a Linux-only default is True, and
config_options() turns it off elsewhere), and generate() hands it to CMake under its name.
KBUS_BUILD_TESTS and KBUS_BUILD_EXAMPLES are handed over as False.

Requirements: the packages that the library and the installed programs find (find_package and
pkg_check_modules outside tests/, bench/, fuzz/ and examples/) are exactly the recipe's
requirements, and one found only under if(KBUS_WITH_X) is required only under
`if self.options.with_x`.
"""
import ast
import os
import re
import sys

# CMake package name -> Conan Center reference name. Threads and PkgConfig come with the system.
CONAN_NAME = {
    "Boost": "boost", "nlohmann_json": "nlohmann_json", "OpenSSL": "openssl", "CLI11": "cli11",
    "EXPAT": "expat", "absl": "abseil", "fuse3": "libfuse",
}
SYSTEM = {"Threads", "PkgConfig"}
NOT_SHIPPED = ("tests", "bench", "fuzz", "examples")


def strip_comments(text):
    return "\n".join(line.split("#", 1)[0] if not line.lstrip().startswith("#") else "" for line in text.splitlines())


def cmake_options(source_dir):
    """{NAME: default} of the top CMakeLists.txt's option() calls."""
    text = strip_comments(open(os.path.join(source_dir, "CMakeLists.txt")).read())
    out = {}
    for name, default in re.findall(r'option\(\s*(\w+)\s+"[^"]*"\s*([^\s)]+)\s*\)', text):
        out[name] = default
    return out


def conditions_of(text):
    """Yields (position, [conditions]) for each command: the if() blocks around it."""
    stack = []
    for m in re.finditer(r"\b(if|elseif|else|endif|find_package|pkg_check_modules|add_subdirectory|include)\s*\(([^)]*)\)", text):
        word, args = m.group(1), m.group(2).strip()
        if word == "if":
            stack.append(args)
        elif word in ("elseif", "else"):
            stack[-1] = "NOT (" + stack[-1] + ")" + (" AND " + args if word == "elseif" else "")
        elif word == "endif":
            stack.pop()
        else:
            yield word, args, list(stack)


def option_of(conditions):
    """The KBUS_WITH_* option that guards a command, or None."""
    for c in conditions:
        m = re.fullmatch(r"(KBUS_WITH_\w+)", c.strip())
        if m:
            return m.group(1)
    return None


def cmake_dependencies(source_dir):
    """{CMake package: guarding option or None} of what the shipped build finds."""
    deps = {}

    def note(package, guard):
        if package in SYSTEM:
            return
        # Unconditional anywhere wins.
        deps[package] = None if (package in deps and deps[package] is None) else guard

    def walk(folder, guard, file_name="CMakeLists.txt"):
        path = os.path.join(source_dir, folder, file_name)
        if not os.path.exists(path):
            return
        # Quoted text (messages) names no dependency.
        text = re.sub(r'"[^"]*"', '""', strip_comments(open(path).read()))
        for word, args, conditions in conditions_of(text):
            here = option_of(conditions) or guard
            first = args.split()[0] if args.split() else ""
            if word == "find_package":
                note(first, here)
            elif word == "pkg_check_modules":
                words = [w for w in args.split()[1:] if w not in ("REQUIRED", "QUIET", "IMPORTED_TARGET", "GLOBAL")]
                for module in words:
                    note(re.split(r"[<>=]", module)[0], here)
            elif word == "include" and first.endswith(".cmake"):
                # A file of the project's own, such as cmake/platform.cmake (relative to the
                # top folder, where the build includes it from).
                walk(os.path.dirname(first), here, os.path.basename(first))
            elif word == "add_subdirectory":
                sub = os.path.normpath(os.path.join(folder, first))
                if sub.split(os.sep)[0] not in NOT_SHIPPED:
                    walk(sub, here)

    walk(".", None)
    return deps


def self_options(node):
    """'x' for self.options.x, else None."""
    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and
            node.value.attr == "options" and isinstance(node.value.value, ast.Name) and node.value.value.id == "self"):
        return node.attr
    return None


def recipe_facts(text):
    tree = ast.parse(text)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    facts = {"options": {}, "defaults": {}, "requires": {}, "variables": {}, "off_outside_linux": set()}
    for item in cls.body:
        if isinstance(item, ast.Assign) and isinstance(item.targets[0], ast.Name):
            name = item.targets[0].id
            if name == "options":
                facts["options"] = ast.literal_eval(item.value)
            elif name == "default_options":
                facts["defaults"] = ast.literal_eval(item.value)
            elif name == "requires":
                for ref in ast.literal_eval(item.value):
                    facts["requires"][ref.split("/")[0]] = None
        if not isinstance(item, ast.FunctionDef):
            continue

        def visit(statements, guard):
            for s in statements:
                if isinstance(s, ast.If):
                    g = guard
                    test = s.test
                    if self_options(test):
                        g = self_options(test)
                    visit(s.body, g)
                    visit(s.orelse, guard)
                    if item.name == "config_options" and isinstance(test, ast.Compare):
                        for b in s.body:
                            if isinstance(b, ast.Assign) and self_options(b.targets[0]) and b.value.value is False:
                                facts["off_outside_linux"].add(self_options(b.targets[0]))
                            if isinstance(b, ast.Delete):
                                for t in b.targets:
                                    if self_options(t):
                                        facts["off_outside_linux"].add(self_options(t))
                    continue
                for node in ast.walk(s):
                    if (item.name == "requirements" and isinstance(node, ast.Call) and
                            isinstance(node.func, ast.Attribute) and node.func.attr == "requires" and
                            node.args and isinstance(node.args[0], ast.Constant)):
                        facts["requires"][node.args[0].value.split("/")[0]] = guard
                    if (item.name == "generate" and isinstance(node, ast.Assign) and
                            isinstance(node.targets[0], ast.Subscript) and
                            isinstance(node.targets[0].value, ast.Attribute) and
                            node.targets[0].value.attr == "variables"):
                        key = node.targets[0].slice
                        if isinstance(key, ast.Constant):
                            value = node.value
                            facts["variables"][key.value] = (
                                ("option", self_options(value)) if self_options(value) else
                                ("const", value.value) if isinstance(value, ast.Constant) else ("other", None))

        visit(item.body, None)
    return facts


def disagreements(source_dir, recipe_text):
    problems = []
    options = cmake_options(source_dir)
    facts = recipe_facts(recipe_text)
    for name, default in sorted(options.items()):
        if not name.startswith("KBUS_"):
            problems.append(f"CMake option {name} is not prefixed KBUS_")
            continue
        if name.startswith("KBUS_BUILD_") or name == "KBUS_SANITIZE":
            continue
        opt = name[len("KBUS_"):].lower()
        if opt not in facts["options"]:
            problems.append(f"CMake option {name} has no recipe option {opt}")
            continue
        if facts["variables"].get(name) != ("option", opt):
            problems.append(f"generate() does not hand option {opt} to CMake as {name}")
        recipe_default = facts["defaults"].get(opt)
        if default == "${kbus_linux_default}":
            if recipe_default is not True or opt not in facts["off_outside_linux"]:
                problems.append(f"{opt}: CMake defaults it on on Linux only; the recipe's default is "
                                f"{recipe_default} and config_options() {'does' if opt in facts['off_outside_linux'] else 'does not'} turn it off elsewhere")
        elif default.startswith("${"):
            pass  # computed (KBUS_SHARED follows BUILD_SHARED_LIBS, else on): the recipe decides
        elif (default.upper() in ("ON", "TRUE", "1")) != bool(recipe_default):
            problems.append(f"{opt}: CMake's default is {default}, the recipe's {recipe_default}")
    known = {name[len("KBUS_"):].lower() for name in options}
    for opt in facts["options"]:
        if opt not in known and opt != "fPIC":
            problems.append(f"recipe option {opt} is no CMake option KBUS_{opt.upper()}")
    for name in ("KBUS_BUILD_TESTS", "KBUS_BUILD_EXAMPLES"):
        if facts["variables"].get(name) != ("const", False):
            problems.append(f"generate() does not set {name} to False")

    deps = cmake_dependencies(source_dir)
    for package, guard in sorted(deps.items()):
        ref = CONAN_NAME.get(package)
        if ref is None:
            problems.append(f"CMake finds {package}, which this check cannot map to a Conan package")
            continue
        want = guard[len("KBUS_"):].lower() if guard else None
        if ref not in facts["requires"]:
            problems.append(f"CMake finds {package}{' with ' + guard if guard else ''}; the recipe does not require {ref}")
        elif facts["requires"][ref] != want:
            problems.append(f"{ref}: CMake finds it {'only with ' + guard if guard else 'always'}; the recipe requires it "
                            f"{'only with ' + facts['requires'][ref] if facts['requires'][ref] else 'always'}")
    mapped = {CONAN_NAME.get(p) for p in deps}
    for ref in facts["requires"]:
        if ref not in mapped:
            problems.append(f"the recipe requires {ref}, which the CMake build does not find")
    return problems


def self_test(source_dir, recipe_text):
    """Wrong recipes, each made from the real one, must be refused."""
    mutations = {
        "a requirement dropped": (r'self\.requires\("openssl/[^"]*"\)', 'pass'),
        "a requirement added": (r'(self\.requires\("boost/[^"]*"[^)]*\))', r'\1\n        self.requires("zlib/1.3")'),
        "werror on by default": (r'"werror": False', '"werror": True'),
        "an option renamed": (r'"with_cuse"', '"with_cuse_transport"'),
        "an option not handed to CMake": (r'tc\.variables\["KBUS_WITH_KDBUS"\]', 'tc.variables["KBUS_WITH_KDBUSX"]'),
        "an unconditional requirement made conditional": (r'(\n(\s+)self\.requires\("expat/[^"]*"\))',
                                                          r'\n\2if self.options.with_kbusd:\n\2    self.requires("expat/2.6.0")'),
    }
    failures = []
    for what, (pattern, replacement) in mutations.items():
        wrong, count = re.subn(pattern, replacement, recipe_text)
        if count == 0:
            failures.append(f"self-test: cannot make a recipe with {what} (pattern not found)")
        elif not disagreements(source_dir, wrong):
            failures.append(f"self-test: a recipe with {what} was accepted")
    return failures


def main():
    source_dir = sys.argv[1]
    recipe_text = open(os.path.join(source_dir, "conan", "conanfile.py")).read()
    problems = self_test(source_dir, recipe_text) if "--self-test" in sys.argv[2:] else disagreements(source_dir, recipe_text)
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print("conan/conanfile.py agrees with CMake" if len(sys.argv) == 2 else "every wrong recipe was refused")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
