/*
 * Licensed under the Apache License, Version 2.0.
 *
 * The Thrift JDBC server's default authentication in sparkcraft's rock (hive.server2.authentication=CUSTOM):
 * a client is let in when it sends the password the server was given in THRIFT_SERVER_PASSWORD (an
 * account's Secret, through the pod's environment) and, when THRIFT_SERVER_USER is set, that user name.
 * Compared in constant time on SHA-256 digests; the password is never logged.
 */
package io.sparkcraft.thriftserver;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import javax.security.sasl.AuthenticationException;
import org.apache.hive.service.auth.PasswdAuthenticationProvider;

public final class SecretPasswordProvider implements PasswdAuthenticationProvider {
  private static byte[] digest(String s) throws AuthenticationException {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new AuthenticationException("SHA-256 is not available", e);
    }
  }

  @Override
  public void Authenticate(String user, String password) throws AuthenticationException {
    String want = System.getenv("THRIFT_SERVER_PASSWORD");
    if (want == null || want.isEmpty()) throw new AuthenticationException("the server has no password (THRIFT_SERVER_PASSWORD)");
    String wantUser = System.getenv("THRIFT_SERVER_USER");
    boolean userOk = wantUser == null || wantUser.isEmpty() || wantUser.equals(user);
    boolean passwordOk = MessageDigest.isEqual(digest(password == null ? "" : password), digest(want));
    if (!(userOk & passwordOk)) throw new AuthenticationException("wrong user name or password");
  }
}
