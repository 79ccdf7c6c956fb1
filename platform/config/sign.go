package config

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/codexion/codexion/platform"
)

// A signature lives beside the file it signs, in <file>.sig, as three lines:
//
//	codexion-config-signature v1
//	key <hex sha-256 of the public key, first 16 bytes>
//	sig <base64 Ed25519 signature over the file's exact bytes>
//
// Signing the exact bytes (not a parsed form) means any change, even whitespace, fails.
const (
	signatureHeader = "codexion-config-signature v1"
	SignatureSuffix = ".sig"
)

// Verification failures a caller may tell apart.
var (
	ErrUnsigned = errors.New("unsigned")
	ErrAltered  = errors.New("altered")
	ErrWrongKey = errors.New("signed with a different key")
)

// GenerateKey writes an Ed25519 key pair as PEM: the private key (mode 0600) and the public key.
func GenerateKey(privatePath, publicPath string) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	if err := writeNew(privatePath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		return err
	}
	return writeNew(publicPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644)
}

func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return platform.Invalid("%s already exists; remove it or choose another path", path)
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// LoadPrivateKey reads a PEM PKCS#8 Ed25519 private key.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	block, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(block)
	if err != nil {
		return nil, platform.Invalid("%s: not a PKCS#8 private key: %v", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, platform.Invalid("%s: key is %T, want Ed25519", path, k)
	}
	return priv, nil
}

// LoadPublicKey reads a PEM PKIX Ed25519 public key.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	block, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(block)
	if err != nil {
		return nil, platform.Invalid("%s: not a PKIX public key: %v", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, platform.Invalid("%s: key is %T, want Ed25519", path, k)
	}
	return pub, nil
}

func readPEM(path, typ string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, platform.Invalid("key file: %v", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != typ {
		return nil, platform.Invalid("%s: expected a PEM block of type %q", path, typ)
	}
	return block.Bytes, nil
}

// KeyID names a public key in signature files and messages.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:16])
}

// Sign signs the file at path and writes path+".sig".
func Sign(path string, priv ed25519.PrivateKey) (sigPath string, err error) {
	data, err := ReadFile(path)
	if err != nil {
		return "", err
	}
	sig := ed25519.Sign(priv, data)
	pub := priv.Public().(ed25519.PublicKey)
	body := fmt.Sprintf("%s\nkey %s\nsig %s\n", signatureHeader, KeyID(pub), base64.StdEncoding.EncodeToString(sig))
	sigPath = path + SignatureSuffix
	if err := os.WriteFile(sigPath, []byte(body), 0o644); err != nil {
		return "", err
	}
	return sigPath, nil
}

// Verify checks path against path+".sig" with pub. The error wraps ErrUnsigned,
// ErrAltered or ErrWrongKey and says which file and what to do.
func Verify(path string, pub ed25519.PublicKey) error {
	data, err := ReadFile(path)
	if err != nil {
		return err
	}
	sigPath := path + SignatureSuffix
	raw, err := os.ReadFile(sigPath)
	if errors.Is(err, os.ErrNotExist) {
		return &platform.Error{Kind: CodeConfigUnsigned.Kind, Code: CodeConfigUnsigned.Code,
			Message: fmt.Sprintf("%s is unsigned: %s does not exist (sign it with `codexion config sign`)", path, sigPath),
			Err:     ErrUnsigned}
	}
	if err != nil {
		return platform.Invalid("read %s: %v", sigPath, err)
	}
	keyID, sig, err := parseSignature(raw)
	if err != nil {
		return &platform.Error{Kind: CodeConfigSignatureMalformed.Kind, Code: CodeConfigSignatureMalformed.Code,
			Message: fmt.Sprintf("%s: %v", sigPath, err), Err: ErrAltered}
	}
	if keyID != KeyID(pub) {
		return &platform.Error{Kind: CodeConfigWrongKey.Kind, Code: CodeConfigWrongKey.Code,
			Message: fmt.Sprintf("%s was signed by key %s, not by the trusted key %s", path, keyID, KeyID(pub)),
			Err:     ErrWrongKey}
	}
	if !ed25519.Verify(pub, data, sig) {
		return &platform.Error{Kind: CodeConfigAltered.Kind, Code: CodeConfigAltered.Code,
			Message: fmt.Sprintf("%s was altered after it was signed: its bytes no longer match %s", path, sigPath),
			Err:     ErrAltered}
	}
	return nil
}

func parseSignature(raw []byte) (keyID string, sig []byte, err error) {
	lines := strings.Split(strings.TrimRight(string(bytes.TrimSpace(raw)), "\n"), "\n")
	if len(lines) != 3 || lines[0] != signatureHeader {
		return "", nil, errors.New("not a codexion config signature (want 3 lines starting with " + signatureHeader + ")")
	}
	k, ok1 := strings.CutPrefix(lines[1], "key ")
	s, ok2 := strings.CutPrefix(lines[2], "sig ")
	if !ok1 || !ok2 {
		return "", nil, errors.New("signature lines must be 'key ...' and 'sig ...'")
	}
	sig, err = base64.StdEncoding.DecodeString(s)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return "", nil, errors.New("signature is not a base64 Ed25519 signature")
	}
	return k, sig, nil
}
