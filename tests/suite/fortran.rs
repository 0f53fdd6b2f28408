//! The Fortran module covers the whole C API: every function declared in include/qdsim_mem.h has
//! a `bind(C, name="...")` interface in include/qdsim_mem.f90, or a line with its reason in the
//! "C-only functions" section of docs/fortran.md.

use std::collections::BTreeSet;
use std::path::Path;

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The functions the header declares: top-level lines `type name(args);` (as
/// `header::header_exports_only_qdsim_names` reads them), leaving out typedefs and macros.
fn header_functions(header: &str) -> BTreeSet<String> {
    header
        .lines()
        .filter(|line| {
            !line.starts_with([' ', '/', '#'])
                && !line.starts_with("typedef")
                && line.ends_with(");")
        })
        .filter_map(|line| {
            let open = line.find('(')?;
            line[..open].rsplit([' ', '*']).next().map(str::to_string)
        })
        .collect()
}

/// The library's C names bound by `bind(C, name="...")` in the module, comments left out (the
/// module also binds libc's `strlen`).
fn fortran_bindings(module: &str) -> BTreeSet<String> {
    const MARK: &str = "bind(C, name=\"";
    module
        .lines()
        .filter(|line| !line.trim_start().starts_with('!'))
        .filter_map(|line| {
            let start = line.find(MARK)? + MARK.len();
            let end = line[start..].find('"')?;
            Some(line[start..start + end].to_string())
        })
        .filter(|name| name.starts_with("qdsim_"))
        .collect()
}

/// The names listed in the "C-only functions" section of docs/fortran.md, as lines
/// "- `name`: reason"; a line without a reason is an error.
fn c_only_functions(guide: &str) -> BTreeSet<String> {
    let section = guide
        .split("\n## ")
        .find(|s| s.starts_with("C-only functions"))
        .expect("docs/fortran.md has a section \"## C-only functions\"");
    section
        .lines()
        .filter_map(|line| line.strip_prefix("- `"))
        .map(|rest| {
            let (name, reason) = rest.split_once('`').expect("- `name`: reason");
            let reason = reason.trim_start_matches(':').trim();
            assert!(reason.len() > 10, "C-only function {name} needs a reason");
            name.to_string()
        })
        .collect()
}

#[test]
fn every_c_function_has_a_fortran_interface_or_a_documented_reason() {
    let declared = header_functions(&read("include/qdsim_mem.h"));
    let bound = fortran_bindings(&read("include/qdsim_mem.f90"));
    let c_only = c_only_functions(&read("docs/fortran.md"));
    assert!(
        declared.len() > 100 && declared.contains("qdsim_manager_create"),
        "the header parser found only {} functions: {declared:?}",
        declared.len()
    );

    let missing: Vec<_> = declared
        .iter()
        .filter(|name| !bound.contains(*name) && !c_only.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "C functions without a Fortran interface in include/qdsim_mem.f90 (add a \
         bind(C, name=\"...\") interface and a wrapper, or list them with a reason under \
         \"C-only functions\" in docs/fortran.md): {missing:?}"
    );

    let stale: Vec<_> = bound
        .iter()
        .filter(|name| !declared.contains(*name))
        .collect();
    assert!(
        stale.is_empty(),
        "the module binds functions the header lacks: {stale:?}"
    );
    let unknown: Vec<_> = c_only
        .iter()
        .filter(|name| !declared.contains(*name))
        .collect();
    assert!(
        unknown.is_empty(),
        "docs/fortran.md lists C-only functions the header lacks: {unknown:?}"
    );
    let both: Vec<_> = c_only.intersection(&bound).collect();
    assert!(
        both.is_empty(),
        "listed as C-only but bound in the module: {both:?}"
    );
}

#[test]
fn the_parsers_find_what_they_should() {
    let header = "qdsim_status qdsim_a(int x);\nconst char *qdsim_b(void);\n\
                  typedef int32_t (*qdsim_fn)(void *user);\n#define QDSIM_X 1\n  qdsim_c(1);\n";
    assert_eq!(
        header_functions(header),
        BTreeSet::from(["qdsim_a".to_string(), "qdsim_b".to_string()])
    );
    let module = "    function f() bind(C, name=\"qdsim_a\")\n    ! bind(C, name=\"qdsim_b\")\n\
                  function g() bind(C, name=\"strlen\")\n";
    assert_eq!(
        fortran_bindings(module),
        BTreeSet::from(["qdsim_a".to_string()])
    );
    let guide =
        "# G\n## C-only functions\n- `qdsim_b`: only useful from C macros\n## Next\n- `x`: y\n";
    assert_eq!(
        c_only_functions(guide),
        BTreeSet::from(["qdsim_b".to_string()])
    );
}
