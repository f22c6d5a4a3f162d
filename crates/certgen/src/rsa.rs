//! RSA public numbers as DER and JWK carry them: big-endian unsigned integers, which DER may
//! pad with a leading zero byte (X.690 §8.3.2) and JWK must not (RFC 7518 §6.3.1.1).

/// Bit length of a big-endian unsigned integer.
pub fn rsa_bits(n: &[u8]) -> usize {
    let n = strip_leading_zeros(n);
    match n.first() {
        None => 0,
        Some(first) => n.len() * 8 - first.leading_zeros() as usize,
    }
}

/// The big-endian integer without its leading zero bytes.
pub fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_ignore_der_padding() {
        assert_eq!(rsa_bits(&[0x00, 0x80, 0, 0]), 24);
        assert_eq!(rsa_bits(&[0x01]), 1);
        assert_eq!(rsa_bits(&[]), 0);
        assert_eq!(strip_leading_zeros(&[0, 0, 1, 0]), &[1, 0]);
    }
}
