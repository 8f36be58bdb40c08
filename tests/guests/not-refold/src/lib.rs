//! A valid component that is not a Refold module: it exports `greet`, nothing else.
#![allow(missing_docs)]

wit_bindgen::generate!({
    inline: "package fixture:other; world other { export greet: func() -> string; }",
});

struct Other;

impl Guest for Other {
    fn greet() -> String {
        "hello".to_owned()
    }
}

export!(Other);
