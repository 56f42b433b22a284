//! kiln-macros: the `migrations!` procedural macro.
//!
//! The macro is deliberately thin: parse the optional arguments (the directory and
//! `dialect = "..."`), load the directory through `kiln_core::load_dir` (the same function the
//! CLI and runtime use), then either turn the
//! validated set into tokens or turn every diagnostic into a `compile_error!`. It never panics:
//! every failure becomes a compile error, followed by a stub value so the user sees kiln's errors
//! and not a cascade of type errors. With the `lint` feature, the rules kiln.toml's
//! `[lint] deny` names are checked on the drafts too (`lint.rs`).

use kiln_core::embedded::EmbeddedRevision;
use kiln_core::{Diagnostics, MigrationSet, Revision};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use std::path::PathBuf;

#[cfg(feature = "lint")]
mod lint;

/// Embeds and validates a migration directory; see the `kiln` crate's documentation.
#[proc_macro]
pub fn migrations(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand(input.into()).into()
}

/// The macro's arguments: `("dir")`, `("dir", dialect = "postgres")`, `(dialect = "mysql")` or
/// nothing.
struct Args {
    dir: Option<syn::LitStr>,
    dialect: Option<(syn::LitStr, kiln_core::Dialect)>,
}

const USAGE: &str = "kiln::migrations! takes nothing, a string literal naming the migration directory, and optionally `dialect = \"postgres\"` (or \"mysql\", \"sqlite\"), e.g. `kiln::migrations!(\"db/migrations\", dialect = \"postgres\")`";

impl syn::parse::Parse for Args {
    fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args {
            dir: None,
            dialect: None,
        };
        if input.peek(syn::LitStr) {
            args.dir = Some(input.parse()?);
            if !input.is_empty() {
                input.parse::<syn::Token![,]>()?;
            }
        }
        while !input.is_empty() {
            let key: syn::Ident = input.parse()?;
            if key != "dialect" || args.dialect.is_some() {
                let what = if key == "dialect" {
                    "a second"
                } else {
                    "an unknown"
                };
                return Err(syn::Error::new(
                    key.span(),
                    format!("{what} argument `{key}`; {USAGE}"),
                ));
            }
            input.parse::<syn::Token![=]>()?;
            let value: syn::LitStr = input.parse()?;
            let Some(dialect) = kiln_core::Dialect::from_name(&value.value()) else {
                return Err(syn::Error::new(
                    value.span(),
                    format!(
                        "unknown dialect `{}`; write `dialect = \"postgres\"`, `\"mysql\"` or `\"sqlite\"`",
                        value.value()
                    ),
                ));
            };
            args.dialect = Some((value, dialect));
            if !input.is_empty() {
                input.parse::<syn::Token![,]>()?;
            }
        }
        Ok(args)
    }
}

fn expand(input: TokenStream) -> TokenStream {
    let args = match syn::parse2::<Args>(input) {
        Ok(a) => a,
        Err(e) => {
            // Our own messages already say what to write; syn's ("expected `=`") need the usage.
            let text = e.to_string();
            let msg = if text.contains("kiln::migrations!") || text.starts_with("unknown dialect") {
                text
            } else {
                format!("{USAGE} ({text})")
            };
            return error_with_stub(&[(e.span(), msg)]);
        }
    };
    let lit = args.dir;
    let span = match (&lit, &args.dialect) {
        (Some(l), _) | (None, Some((l, _))) => l.span(),
        (None, None) => Span::call_site(),
    };
    let given = lit.as_ref().map(syn::LitStr::value);
    if given.as_deref().is_some_and(|g| g.trim().is_empty()) {
        return error_with_stub(&[(
            span,
            "kiln::migrations! got an empty directory name; write `kiln::migrations!()` for `migrations`, or name the directory, e.g. `kiln::migrations!(\"db/migrations\")`".to_owned(),
        )]);
    }
    let Some(manifest_dir) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        return error_with_stub(&[(
            span,
            "kiln::migrations! needs CARGO_MANIFEST_DIR; build with cargo".to_owned(),
        )]);
    };
    let mut dir = kiln_core::resolve_dir(&manifest_dir, given.as_deref());
    dir.dialect = args.dialect.as_ref().map(|(_, d)| *d);
    match kiln_core::load_dir(&dir) {
        Ok(loaded) => {
            #[cfg(feature = "lint")]
            {
                let denied = lint::denied(&manifest_dir, &dir, &loaded.set, span);
                if !denied.is_empty() {
                    return error_with_stub(&denied);
                }
            }
            let tracked = loaded
                .read_paths
                .iter()
                .filter_map(|p| p.to_str())
                .map(|p| {
                    quote! { const _: &[u8] = ::core::include_bytes!(#p); }
                });
            let set = set_tokens(&loaded.set);
            quote_spanned! {span=>
                {
                    #(#tracked)*
                    ::kiln::Migrator::embedded(#set)
                }
            }
        }
        Err(diags) => error_with_stub(&messages(span, &diags)),
    }
}

fn messages(span: Span, diags: &Diagnostics) -> Vec<(Span, String)> {
    diags.iter().map(|d| (span, d.to_string())).collect()
}

fn error_with_stub(errors: &[(Span, String)]) -> TokenStream {
    let errors = errors
        .iter()
        .map(|(span, msg)| quote_spanned! {*span=> ::core::compile_error!(#msg); });
    quote! {
        {
            #(#errors)*
            ::kiln::Migrator::EMPTY
        }
    }
}

fn str_list(items: &[kiln_core::Str]) -> TokenStream {
    let items = items.iter().map(|s| -> &str { s });
    quote! { &[#(#items),*] }
}

fn revision_tokens(r: &Revision) -> TokenStream {
    let id = r.id();
    let file = r.file();
    let message = r.message().unwrap_or("");
    let created = r.created().unwrap_or("");
    let parents = str_list(r.parents());
    let depends = str_list(r.depends_on());
    let labels = str_list(r.branch_labels());
    let flags = EmbeddedRevision::flags_of(r);
    let lock_timeout = EmbeddedRevision::millis_of(r.lock_timeout());
    let statement_timeout = EmbeddedRevision::millis_of(r.statement_timeout());
    let up = r.up_sql();
    let up_line = r.up_line();
    let down = r.down_sql().unwrap_or("");
    let down_line = r.down_line();
    let checksum = r.checksum();
    // Plain `&'static str`s and integers, absent values as flag bits: rustc evaluates a thousand
    // of these several times faster than struct literals of `Cow`s and `Option`s (issue 15), and
    // the runtime decodes them into `Revision`s on first use (kiln_core::embedded).
    quote! {
        ::kiln::core::embedded::EmbeddedRevision {
            id: #id,
            file: #file,
            message: #message,
            created: #created,
            parents: #parents,
            depends_on: #depends,
            branch_labels: #labels,
            flags: #flags,
            lock_timeout_ms: #lock_timeout,
            statement_timeout_ms: #statement_timeout,
            up: #up,
            up_line: #up_line,
            down: #down,
            down_line: #down_line,
            checksum: #checksum,
        }
    }
}

fn set_tokens(set: &MigrationSet) -> TokenStream {
    let revisions = set.revisions().iter().map(revision_tokens);
    let heads = str_list(set.heads());
    let bases = str_list(set.bases());
    let digest = set.digest();
    let syntax = match set.syntax() {
        Some(s) => {
            let dialect = match s.dialect {
                kiln_core::Dialect::Postgres => quote! { Postgres },
                kiln_core::Dialect::MySql => quote! { MySql },
                kiln_core::Dialect::Sqlite => quote! { Sqlite },
                other => {
                    let msg = format!(
                        "kiln::migrations! cannot embed the dialect {other}; upgrade kiln-macros"
                    );
                    return quote! { ::core::compile_error!(#msg) };
                }
            };
            let scs = s.standard_conforming_strings;
            let backslash = s.backslash_escapes;
            quote! {
                ::core::option::Option::Some(
                    ::kiln::core::Syntax::new(::kiln::core::Dialect::#dialect)
                        .with_standard_conforming_strings(#scs)
                        .with_backslash_escapes(#backslash),
                )
            }
        }
        None => quote! { ::core::option::Option::None },
    };
    // A `static`, so the migrator can hold a `&'static` to it whatever the caller's context.
    quote! {
        {
            static SET: ::kiln::core::embedded::EmbeddedSet = ::kiln::core::embedded::EmbeddedSet {
                revisions: &[#(#revisions),*],
                heads: #heads,
                bases: #bases,
                digest: #digest,
                syntax: #syntax,
            };
            &SET
        }
    }
}
