//! Tile paths as a stranger asks for them: a path that parses is the one the tile prints.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panah_core::tlog::tiles::TileRef;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(tile) = TileRef::parse(path) {
        assert_eq!(tile.path(), path, "one path per tile");
        assert_eq!(TileRef::parse(&tile.path()).ok(), Some(tile));
    }
});
