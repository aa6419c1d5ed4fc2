//! Compiles `kefu/v1/*.proto` with protox (pure Rust, no `protoc` on the
//! machine) and writes the descriptor set that server reflection serves.

use std::{env, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from("kefu/v1");
    let mut files: Vec<PathBuf> = fs::read_dir(&proto_dir)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    // A stable order keeps the generated code and descriptor set reproducible.
    files.sort();
    println!("cargo:rerun-if-changed={}", proto_dir.display());
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    let descriptors = protox::compile(&files, ["."])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("kefu_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        // Methods that a later issue implements answer UNIMPLEMENTED until
        // then, instead of every service crate repeating a stub per method.
        .generate_default_stubs(true)
        .compile_fds_with_config(descriptors, prost_config())?;
    Ok(())
}

/// Messages carry their full protobuf name (`prost::Name`), so events can be
/// packed into `google.protobuf.Any` and recognised by type on arrival.
fn prost_config() -> prost_build::Config {
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    config
}
