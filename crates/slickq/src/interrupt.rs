//! Ctrl-C (SIGINT, also SIGTERM): commands that claim records finish the
//! one in hand and exit cleanly; segments the tool made for itself (the
//! benchmark's) are removed; everything else exits at once with status 130.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static STOP: AtomicBool = AtomicBool::new(false);
static GRACEFUL: AtomicBool = AtomicBool::new(false);
static CLEANUP: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Installs the handler (once, from `main`). It runs on a thread of its own.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        STOP.store(true, Ordering::SeqCst);
        for name in CLEANUP.lock().unwrap_or_else(std::sync::PoisonError::into_inner).drain(..) {
            let _ = slick_queue::remove(&name);
        }
        if !GRACEFUL.load(Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
}

/// The current command polls [`stopped`] and ends by itself.
pub fn graceful() {
    GRACEFUL.store(true, Ordering::SeqCst);
}

/// Whether Ctrl-C was pressed.
pub fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Removes the shared-memory object `name` if the tool is interrupted
/// before it removes it itself.
pub fn remove_on_interrupt(name: &str) {
    CLEANUP.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(name.to_owned());
}

/// The tool removed `name` itself.
pub fn removed(name: &str) {
    CLEANUP.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|n| n != name);
}
