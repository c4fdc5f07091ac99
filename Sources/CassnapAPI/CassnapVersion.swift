/// The version every cassnap binary reports, and agents send when they register.
package enum CassnapVersion {
    package static let string = "0.1.0-dev"
}
