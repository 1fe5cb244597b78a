//! Checks of the Dockerfile: stages and the user of the final stage.

/// Checks the Dockerfile: stages referenced by `COPY --from` exist, and the final stage drops root.
pub fn check_dockerfile(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut stages: Vec<String> = Vec::new();
    let mut user_of_last_stage: Option<String> = None;
    let mut stage_count = 0;
    // Continuation lines are joined so each instruction is one line.
    let joined = text.replace("\\\n", " ");
    for line in joined.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let instruction = words.next().unwrap_or("").to_ascii_uppercase();
        let args: Vec<&str> = words.collect();
        match instruction.as_str() {
            "FROM" => {
                stage_count += 1;
                user_of_last_stage = None;
                if let Some(position) = args.iter().position(|w| w.eq_ignore_ascii_case("AS"))
                    && let Some(name) = args.get(position + 1)
                {
                    stages.push((*name).to_owned());
                }
            }
            "COPY" => {
                for arg in &args {
                    if let Some(from) = arg.strip_prefix("--from=")
                        && !stages.iter().any(|s| s == from)
                    {
                        problems.push(format!(
                            "COPY --from={from}: no earlier stage is named `{from}`"
                        ));
                    }
                }
            }
            "USER" => user_of_last_stage = args.first().map(|u| (*u).to_owned()),
            _ => {}
        }
    }
    if stage_count < 2 {
        problems.push(
            "must be a multi-stage build (a build stage and a small runtime stage)".to_owned(),
        );
    }
    match user_of_last_stage {
        None => {
            problems.push("the final stage has no USER: the image would run as root".to_owned());
        }
        Some(user) => {
            let name = user.split(':').next().unwrap_or("");
            if name == "root" || name == "0" {
                problems.push(format!(
                    "the final stage runs as `{user}`: it must be a non-root user"
                ));
            }
        }
    }
    problems
}
